"""Internal authentication (DESIGN §1): short-lived service JWTs plus the forwarded tenant.

Every internal HTTP call carries `Authorization: Bearer <jwt>` signed with the calling service's own
Ed25519 key (`igny8.service_keys`: `sub` = calling service, `aud` = target service, `exp` at most
five minutes after `iat`), the tenant in `X-Account-Id` and the user's roles in `X-Roles`. Roles
are the user's, forwarded by the gateway: they are honoured from the gateway only, so no other
service can claim `platform_admin` (or any role) for itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Header, HTTPException, Request, status

from igny8.service_keys import (
    MAX_TOKEN_TTL_S,
    InvalidServiceToken,
    PublicKeys,
    SigningKey,
    mint_service_token,
    verify_service_token,
)

__all__ = [
    "GATEWAY",
    "MAX_TOKEN_TTL_S",
    "PLATFORM_ADMIN",
    "Caller",
    "InvalidServiceToken",
    "auth_headers",
    "mint_service_token",
    "service_auth",
    "verify_service_token",
]

GATEWAY = "gateway"
PLATFORM_ADMIN = "platform_admin"


@dataclass(frozen=True)
class Caller:
    """Who is calling (a service), for which tenant, with which user roles."""

    service: str
    account_id: uuid.UUID | None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_platform_admin(self) -> bool:
        """Only the gateway vouches for users: the role counts only on the gateway's calls."""
        return self.service == GATEWAY and PLATFORM_ADMIN in self.roles

    def require_account(self) -> uuid.UUID:
        if self.account_id is None:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "X-Account-Id header is required")
        return self.account_id


def service_auth(
    audience: str, public_keys: Callable[[], PublicKeys | str] | PublicKeys | str
) -> Callable[..., Callable[..., Caller]]:
    """Build `admits(...)`: a FastAPI dependency factory for one service's internal endpoints.
    `public_keys` (or a callable returning them): every caller's public key, by service name."""

    def keys() -> PublicKeys | str:
        return public_keys() if callable(public_keys) else public_keys

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
                caller = verify_service_token(keys(), authorization[7:].strip(), audience)
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
            if caller != GATEWAY:  # roles are the user's, and only the gateway knows the user
                roles = frozenset()
            resolved = Caller(service=caller, account_id=account_id, roles=roles)
            request.state.caller = resolved
            return resolved

        return dependency

    return admits


def auth_headers(
    key: SigningKey,
    caller: str,
    audience: str,
    account_id: uuid.UUID | str | None = None,
    roles: Iterable[str] = (),
) -> dict[str, str]:
    """Headers for an internal call from `caller` to `audience`, signed with `key` (the caller's
    private key; None reads `<CALLER>_SERVICE_PRIVATE_KEY` from the environment)."""
    headers = {"Authorization": f"Bearer {mint_service_token(key, caller, audience)}"}
    if account_id is not None:
        headers["X-Account-Id"] = str(account_id)
    roles = list(roles)
    if roles:
        headers["X-Roles"] = ",".join(roles)
    return headers
