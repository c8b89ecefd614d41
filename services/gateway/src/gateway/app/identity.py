"""Use cases of identity: accounts with their owner, members and roles, API keys, and who a
request acts as."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

from gateway.app.access_cache import AccessCache
from gateway.domain.errors import Conflict, Forbidden, NotFound, Unauthenticated
from gateway.domain.model import (
    SCOPE_ROLE,
    Principal,
    Role,
    Scope,
    api_key_prefix,
    hash_api_key,
    new_api_key,
)
from gateway.ports import BillingAccounts, IdentityStore


async def create_account(
    store: IdentityStore,
    billing: BillingAccounts,
    owner: str,
    name: str,
    account_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The account, its owner's membership, then its billing account. Billing is opened after
    the gateway's own commit and idempotently, so a retry (same `account_id`) completes an
    account whose billing call failed."""
    account_id = account_id or uuid.uuid4()
    existing = await store.account(account_id)
    if existing is not None and await store.role_of(account_id, owner) is not Role.OWNER:
        raise Conflict("that account id is taken", code="account_exists")
    created = existing is None and await store.create_account(account_id, name, owner)
    if existing is None or not existing["billing_opened"]:
        await billing.open(account_id)
        await store.mark_billing_opened(account_id)
    account = await store.account(account_id)
    assert account is not None
    return {**account, "created": created}


async def principal_for_user(
    store: IdentityStore,
    claims_subject: str,
    email: str | None,
    account_id: uuid.UUID | None,
    cache: AccessCache | None = None,
) -> Principal | None:
    """The user in the account named by X-Account-Id; None when no account was named. The
    common case (a known user) is one read, or none while `cache` remembers the membership; a
    new user is recorded on first sight."""
    if account_id is None:
        await store.ensure_user(claims_subject, email)
        return None
    cache_key = ("user", claims_subject, account_id)
    if cache is not None and (cached := cache.get(cache_key)) is not None:
        return cached
    generation = cache.generation() if cache is not None else 0
    known, platform_admin, role = await store.lookup(claims_subject, account_id)
    if not known:
        platform_admin = await store.ensure_user(claims_subject, email)
    if role is None:
        if not platform_admin or await store.account(account_id) is None:
            raise Forbidden("you are not a member of that account", code="not_a_member")
        role = Role.OWNER
    principal = Principal(account_id, role, user_id=claims_subject, platform_admin=platform_admin)
    if cache is not None:
        cache.put(cache_key, principal, generation)
    return principal


async def principal_for_api_key(
    store: IdentityStore,
    secret: str,
    account_id: uuid.UUID | None,
    cache: AccessCache | None = None,
) -> Principal:
    """The key's account with its scope's role. While `cache` remembers the key no read is made
    and its last-used time is not written again (it is then exact to the cache's lifetime)."""
    cache_key = ("key", hash_api_key(secret))
    cached = cache.get(cache_key) if cache is not None else None
    if cached is not None:
        if account_id is not None and account_id != cached.account_id:
            raise Forbidden("this API key belongs to another account", code="not_a_member")
        return cached
    generation = cache.generation() if cache is not None else 0
    prefix = api_key_prefix(secret)
    stored = await store.api_key_by_prefix(prefix) if prefix else None
    if stored is None or not hmac.compare_digest(stored.digest, hash_api_key(secret)):
        raise Unauthenticated("unknown API key", code="invalid_api_key")
    if stored.revoked:
        raise Unauthenticated("this API key was revoked", code="api_key_revoked")
    if account_id is not None and account_id != stored.account_id:
        raise Forbidden("this API key belongs to another account", code="not_a_member")
    await store.touch_api_key(stored.key_id, datetime.now(UTC))
    principal = Principal(stored.account_id, SCOPE_ROLE[stored.scope], api_key_id=stored.key_id)
    if cache is not None:
        cache.put(cache_key, principal, generation)
    return principal


async def issue_api_key(
    store: IdentityStore, principal: Principal, name: str, scope: Scope
) -> dict[str, Any]:
    if scope is Scope.ADMIN and not principal.may(Role.ADMIN):
        raise Forbidden("only admins may create admin keys")
    key = new_api_key()
    await store.add_api_key(
        key.key_id, principal.account_id, key.prefix, key.digest, name, scope, principal.user_id
    )
    return {
        "key_id": str(key.key_id),
        "prefix": key.prefix,
        "name": name,
        "scope": scope.value,
        "secret": key.secret,
    }


async def set_member_role(
    store: IdentityStore,
    principal: Principal,
    user_id: str,
    role: Role,
    cache: AccessCache | None = None,
) -> None:
    """Admins manage editors and viewers; only owners grant or take admin and owner."""
    current = await store.role_of(principal.account_id, user_id)
    touches_top = role in (Role.OWNER, Role.ADMIN) or current in (Role.OWNER, Role.ADMIN)
    if touches_top and not principal.may(Role.OWNER):
        raise Forbidden("only owners change owners and admins")
    if current is Role.OWNER and role is not Role.OWNER:
        await _keep_an_owner(store, principal.account_id, user_id)
    await store.ensure_user(user_id, None)
    await store.set_member(principal.account_id, user_id, role)
    if cache is not None:
        cache.forget_account(principal.account_id)


async def remove_member(
    store: IdentityStore, principal: Principal, user_id: str, cache: AccessCache | None = None
) -> None:
    current = await store.role_of(principal.account_id, user_id)
    if current is None:
        raise NotFound("no such member")
    if current in (Role.OWNER, Role.ADMIN) and not principal.may(Role.OWNER):
        raise Forbidden("only owners remove owners and admins")
    if current is Role.OWNER:
        await _keep_an_owner(store, principal.account_id, user_id)
    await store.remove_member(principal.account_id, user_id)
    if cache is not None:
        cache.forget_account(principal.account_id)


async def revoke_api_key(
    store: IdentityStore, principal: Principal, key_id: uuid.UUID, cache: AccessCache | None = None
) -> bool:
    """Whether a key of the account was revoked (False: no such key, or revoked before)."""
    revoked = await store.revoke_api_key(principal.account_id, key_id)
    if cache is not None:
        cache.forget_account(principal.account_id)
    return revoked


async def _keep_an_owner(store: IdentityStore, account_id: uuid.UUID, leaving: str) -> None:
    owners = [m for m in await store.members(account_id) if m["role"] == Role.OWNER.value]
    if [m["user_id"] for m in owners] == [leaving]:
        raise Conflict("an account keeps at least one owner", code="last_owner")
