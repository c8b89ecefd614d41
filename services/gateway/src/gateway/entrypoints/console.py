"""The console (the web frontend in `console/`): how it signs in, and its built files at `/`.

`/v1/console/config` tells the console which sign-ins exist: OpenID Connect (authorization code
flow with PKCE, a public client: the browser holds no secret) and, in development only, picking a
development identity whose token the gateway mints with `jwt_dev_secret`. The built files are
served last, after every API route: a path that is no file gets `index.html` (the console routes
in the browser), except under `/v1/`, which stays the API's JSON 404."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Match
from starlette.types import Scope

from gateway.adapters.jwt_tokens import dev_token
from gateway.config import GatewaySettings
from gateway.domain.errors import NotFound
from igny8.webapi import errors

REPOSITORY = Path(__file__).resolve().parents[5]
DEV_TOKEN_TTL_S = 8 * 3600
# Vite names every built asset by its content hash: it never changes, so it may be kept a year.
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_SPA = ("v1/", "docs", "redoc", "openapi.json", "healthz", "readyz", "metrics")


class OidcConfig(BaseModel):
    issuer: str
    client_id: str
    scopes: str
    audience: str


class ConsoleConfig(BaseModel):
    oidc: OidcConfig | None = Field(description="Present when the console signs in with OIDC.")
    dev_sign_in: bool = Field(description="Development identities may be picked.")
    dev_users: list[str]


class DevTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._@-]+$")
    email: str | None = Field(default=None, max_length=320)


class DevToken(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int


def console_dir(settings: GatewaySettings) -> Path | None:
    folder = Path(settings.console_dir) if settings.console_dir else REPOSITORY / "console" / "dist"
    return folder if (folder / "index.html").is_file() else None


def dev_sign_in(settings: GatewaySettings) -> bool:
    return settings.console_dev_sign_in and bool(settings.jwt_dev_secret.get_secret_value())


def create_router(settings: GatewaySettings) -> APIRouter:
    router = APIRouter(prefix="/v1/console", tags=["console"])

    @router.get(
        "/config",
        summary="How the console signs in (no token needed)",
        response_model=ConsoleConfig,
    )
    async def config() -> dict[str, Any]:
        oidc = None
        if settings.oidc_client_id:
            oidc = {
                "issuer": (settings.oidc_issuer or settings.jwt_issuer).rstrip("/"),
                "client_id": settings.oidc_client_id,
                "scopes": settings.oidc_scopes,
                "audience": settings.jwt_audience,
            }
        enabled = dev_sign_in(settings)
        users = [u.strip() for u in settings.console_dev_users.split(",") if u.strip()]
        return {"oidc": oidc, "dev_sign_in": enabled, "dev_users": users if enabled else []}

    @router.post(
        "/dev-tokens",
        summary="Development only: a token for a development identity",
        response_model=DevToken,
        responses=errors(404, 422),
    )
    async def mint(body: DevTokenRequest) -> dict[str, Any]:
        if not dev_sign_in(settings):
            raise NotFound("development sign-in is off", code="dev_sign_in_off")
        token = dev_token(
            settings.jwt_dev_secret.get_secret_value(),
            settings.jwt_issuer,
            settings.jwt_audience,
            body.user,
            DEV_TOKEN_TTL_S,
            body.email,
        )
        return {"access_token": token, "expires_in": DEV_TOKEN_TTL_S}

    return router


class ConsoleRoute(APIRoute):
    """Never matches the API's own paths: an unknown `/v1/…` stays the API's 404 for every
    method (a match here would turn a mistyped POST into a 405)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if str(scope.get("path", "")).lstrip("/").startswith(NOT_SPA):
            return Match.NONE, {}
        return super().matches(scope)


def create_static_router(folder: Path) -> APIRouter:
    """Registered after every other route, so it only answers what nothing else does."""
    router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
    root = folder.resolve()
    index = root / "index.html"

    @router.get("/{path:path}")
    async def files(path: str, request: Request) -> Response:
        if path.startswith(NOT_SPA):
            raise NotFound(f"no route {request.method} /{path}", code="route_missing")
        if path:
            found = (root / path).resolve()
            if found.is_relative_to(root) and found.is_file():
                cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
                return FileResponse(found, headers={"Cache-Control": cache})
            if path.startswith("assets/"):  # an old hashed file: a 404, not the page
                raise NotFound("no such console asset", code="route_missing")
        # the page itself is always revalidated, so a new build is seen at once
        return FileResponse(
            index,
            headers={
                "Cache-Control": "no-cache",
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": CSP,
            },
        )

    return router


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: "
    "https:; frame-src 'self' blob:; connect-src 'self' http: https:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
