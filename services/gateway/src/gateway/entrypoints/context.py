"""What the gateway's entrypoints share: stores, verifier, limiter, upstream client, settings."""

import uuid
from dataclasses import dataclass
from typing import Annotated

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import identity
from gateway.app.access_cache import AccessCache
from gateway.app.stream_hub import StreamHub
from gateway.config import GatewaySettings
from gateway.domain.errors import BadRequest, GatewayError, Unauthenticated
from gateway.domain.model import Principal
from gateway.ports import (
    BillingAccounts,
    IdempotencyKeys,
    IdentityStore,
    RateLimiter,
    TokenVerifier,
)
from igny8.webapi import error_response


@dataclass
class Gateway:
    settings: GatewaySettings
    engine: AsyncEngine
    store: IdentityStore
    verifier: TokenVerifier
    limiter: RateLimiter
    billing: BillingAccounts
    client: httpx.AsyncClient
    key: Ed25519PrivateKey | None
    idempotency: IdempotencyKeys
    hub: StreamHub
    access: AccessCache

    def service_url(self, service: str) -> str:
        return str(getattr(self.settings, f"{service}_url")).rstrip("/")


@dataclass(frozen=True)
class Caller:
    """A user (possibly without an account yet) or a principal acting in one account."""

    user_id: str | None
    principal: Principal | None


def gateway_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GatewayError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(
        request, exc.status, exc.message, code=exc.code, param=exc.param, headers=headers
    )


def make_auth(gw: Gateway) -> tuple[object, object]:
    """FastAPI dependencies: `caller` (a user token or API key, account optional) and `member`
    (an account is required and the caller belongs to it), each rate-limited."""

    async def caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer ") or not header[7:].strip():
            raise Unauthenticated("a bearer token or API key is required", code="unauthenticated")
        token = header[7:].strip()
        raw_account = request.headers.get("x-account-id")
        try:
            account_id = uuid.UUID(raw_account) if raw_account else None
        except ValueError:
            raise BadRequest(
                "X-Account-Id must be a UUID", code="invalid_account_id", param="X-Account-Id"
            ) from None
        if token.startswith("igk_"):
            principal = await identity.principal_for_api_key(gw.store, token, account_id, gw.access)
            result = Caller(None, principal)
        else:
            claims = await gw.verifier.verify(token)
            user_principal = await identity.principal_for_user(
                gw.store, claims.subject, claims.email, account_id, gw.access
            )
            result = Caller(claims.subject, user_principal)
        await _limit(gw, request, result)
        request.state.principal = result.principal
        return result

    async def member(found: Annotated[Caller, Depends(caller)]) -> Principal:
        if found.principal is None:
            raise BadRequest(
                "X-Account-Id is required: the account this request acts in",
                code="account_required",
                param="X-Account-Id",
            )
        return found.principal

    return caller, member


async def _limit(gw: Gateway, request: Request, found: Caller) -> None:
    s = gw.settings
    principal = found.principal
    buckets = []
    if principal is not None:
        buckets.append((f"account:{principal.account_id}", s.rate_limit_per_s, s.rate_limit_burst))
        if principal.api_key_id is not None:
            buckets.append(
                (
                    f"key:{principal.api_key_id}",
                    s.api_key_rate_limit_per_s,
                    s.api_key_rate_limit_burst,
                )
            )
    elif found.user_id is not None:
        buckets.append((f"user:{found.user_id}", s.rate_limit_per_s, s.rate_limit_burst))
    for name, rate, burst in buckets:
        decision = await gw.limiter.take(name, rate, burst)
        request.state.rate_limit = decision
        if not decision.allowed:
            raise RateLimited(decision.retry_after_s, decision.limit)


class RateLimited(GatewayError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int, limit: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after_s}s")
        self.headers = {
            "Retry-After": str(retry_after_s),
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(retry_after_s),
        }


def rate_limited_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    return error_response(request, 429, exc.message, code=exc.code, headers=exc.headers)


def rate_headers(request: Request) -> dict[str, str]:
    decision = getattr(request.state, "rate_limit", None)
    if decision is None:
        return {}
    return {"RateLimit-Limit": str(decision.limit), "RateLimit-Remaining": str(decision.remaining)}
