"""Internal authentication (DESIGN §1): short-lived service JWTs plus the forwarded tenant.

Every internal HTTP call carries `Authorization: Bearer <jwt>` signed with the shared
`IGNY8_SERVICE_KEY` (HS256; `sub` = calling service, `aud` = target service, `exp` at most five
minutes after `iat`), the tenant in `X-Account-Id` and the user's roles in `X-Roles`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Header, HTTPException, Request, status

ALGORITHM = "HS256"
MAX_TOKEN_TTL_S = 300
PLATFORM_ADMIN = "platform_admin"


class InvalidServiceToken(Exception):
    pass


def mint_service_token(key: str, caller: str, audience: str, ttl_s: int = 120) -> str:
    if not key:
        raise InvalidServiceToken("IGNY8_SERVICE_KEY is not set")
    if not 0 < ttl_s <= MAX_TOKEN_TTL_S:
        raise InvalidServiceToken(f"ttl must be between 1 and {MAX_TOKEN_TTL_S} seconds")
    now = int(time.time())
    claims = {
        "sub": caller,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify_service_token(key: str, token: str, audience: str) -> str:
    """Return the calling service's name, or raise InvalidServiceToken with the reason."""
    if not key:
        raise InvalidServiceToken("service key not configured")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["exp", "iat", "sub", "aud"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidServiceToken("token expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidServiceToken("token is for another service") from None
    except jwt.PyJWTError as exc:
        raise InvalidServiceToken(f"invalid token: {exc}") from None
    if claims["exp"] - claims["iat"] > MAX_TOKEN_TTL_S:
        raise InvalidServiceToken("token lifetime exceeds five minutes")
    return str(claims["sub"])


@dataclass(frozen=True)
class Caller:
    """Who is calling (a service), for which tenant, with which user roles."""

    service: str
    account_id: uuid.UUID | None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_platform_admin(self) -> bool:
        return PLATFORM_ADMIN in self.roles

    def require_account(self) -> uuid.UUID:
        if self.account_id is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "X-Account-Id header is required")
        return self.account_id


def service_auth(
    audience: str, key_provider: Callable[[], str]
) -> Callable[..., Callable[..., Caller]]:
    """Build `admits(...)`: a FastAPI dependency factory for one service's internal endpoints."""

    def admits(*callers: str) -> Callable[..., Caller]:
        allowed = frozenset(callers)

        def dependency(
            request: Request,
            authorization: Annotated[str | None, Header()] = None,
            x_account_id: Annotated[str | None, Header()] = None,
            x_roles: Annotated[str | None, Header()] = None,
        ) -> Caller:
            if not authorization or not authorization.lower().startswith("bearer "):
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    "missing bearer service token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                caller = verify_service_token(key_provider(), authorization[7:].strip(), audience)
            except InvalidServiceToken as exc:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
                ) from None
            if caller not in allowed:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, f"caller {caller!r} is not admitted here"
                )
            account_id = None
            if x_account_id:
                try:
                    account_id = uuid.UUID(x_account_id)
                except ValueError:
                    raise HTTPException(
                        status.HTTP_400_BAD_REQUEST, "X-Account-Id must be a UUID"
                    ) from None
            roles = frozenset(r.strip() for r in (x_roles or "").split(",") if r.strip())
            resolved = Caller(service=caller, account_id=account_id, roles=roles)
            request.state.caller = resolved
            return resolved

        return dependency

    return admits


def auth_headers(
    key: str,
    caller: str,
    audience: str,
    account_id: uuid.UUID | str | None = None,
    roles: Iterable[str] = (),
) -> dict[str, str]:
    """Headers for an internal call from `caller` to `audience`."""
    headers = {"Authorization": f"Bearer {mint_service_token(key, caller, audience)}"}
    if account_id is not None:
        headers["X-Account-Id"] = str(account_id)
    roles = list(roles)
    if roles:
        headers["X-Roles"] = ",".join(roles)
    return headers
