"""`/v1` identity routes: the caller, accounts, members and roles, API keys."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.app import identity
from gateway.domain.errors import Forbidden, NotFound
from gateway.domain.model import Principal, Role, Scope
from gateway.entrypoints.context import Caller, Gateway
from igny8.webapi import errors

AUTH_ERRORS = (400, 401, 403, 422, 429)


class NewAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    account_id: uuid.UUID | None = Field(
        default=None, description="Choose the id to make a retry idempotent."
    )


class Account(BaseModel):
    account_id: uuid.UUID
    name: str
    billing_opened: bool
    created: bool = False


class Membership(BaseModel):
    account_id: uuid.UUID
    name: str
    role: Role


class Me(BaseModel):
    user_id: str
    accounts: list[Membership]


class Member(BaseModel):
    user_id: str
    role: Role


class MemberList(BaseModel):
    items: list[Member]


class RoleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    scope: Scope = Scope.READ


class CreatedKey(BaseModel):
    key_id: uuid.UUID
    prefix: str
    name: str
    scope: Scope
    secret: str = Field(description="The whole key. Shown once: store it now.")


class KeyView(BaseModel):
    key_id: uuid.UUID
    prefix: str
    name: str
    scope: Scope
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class KeyList(BaseModel):
    items: list[KeyView]


def create_router(gw: Gateway, caller_dep: Any, member_dep: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["identity"])
    AnyCaller = Annotated[Caller, Depends(caller_dep)]
    InAccount = Annotated[Principal, Depends(member_dep)]

    def user_of(found: Caller) -> str:
        if found.user_id is None:
            raise Forbidden("this needs a user token, not an API key", code="user_required")
        return found.user_id

    def at_least(principal: Principal, role: Role) -> None:
        if not principal.may(role):
            raise Forbidden(f"this needs the {role.value} role or higher")

    @router.get(
        "/me",
        summary="The caller and the accounts they belong to",
        response_model=Me,
        responses=errors(*AUTH_ERRORS),
    )
    async def me(found: AnyCaller) -> dict[str, Any]:
        user = user_of(found)
        return {"user_id": user, "accounts": await gw.store.accounts_of(user)}

    @router.post(
        "/accounts",
        status_code=201,
        summary="Create an account owned by the caller (opens its billing account)",
        response_model=Account,
        responses=errors(*AUTH_ERRORS, 409, 502, 503, 504),
    )
    async def create(body: NewAccount, found: AnyCaller) -> dict[str, Any]:
        return await identity.create_account(
            gw.store, gw.billing, user_of(found), body.name, body.account_id
        )

    @router.get(
        "/account",
        summary="The account named by X-Account-Id",
        response_model=Account,
        responses=errors(*AUTH_ERRORS, 404),
    )
    async def account(principal: InAccount) -> dict[str, Any]:
        found = await gw.store.account(principal.account_id)
        if found is None:
            raise NotFound("account not found")
        return found

    @router.get(
        "/members",
        summary="Members and their roles",
        response_model=MemberList,
        responses=errors(*AUTH_ERRORS),
    )
    async def members(principal: InAccount) -> dict[str, Any]:
        return {"items": await gw.store.members(principal.account_id)}

    @router.put(
        "/members/{user_id}",
        summary="Add a member or change their role (admins: editors and viewers; owners: all)",
        response_model=Member,
        responses=errors(*AUTH_ERRORS, 409),
    )
    async def put_member(user_id: str, body: RoleBody, principal: InAccount) -> dict[str, Any]:
        at_least(principal, Role.ADMIN)
        await identity.set_member_role(gw.store, principal, user_id, body.role, gw.access)
        return {"user_id": user_id, "role": body.role}

    @router.delete(
        "/members/{user_id}",
        status_code=204,
        summary="Remove a member",
        responses=errors(*AUTH_ERRORS, 404, 409),
    )
    async def delete_member(user_id: str, principal: InAccount) -> Response:
        at_least(principal, Role.ADMIN)
        await identity.remove_member(gw.store, principal, user_id, gw.access)
        return Response(status_code=204)

    @router.post(
        "/api-keys",
        status_code=201,
        summary="Create an API key (its secret is shown once)",
        response_model=CreatedKey,
        responses=errors(*AUTH_ERRORS),
    )
    async def new_key(body: NewKey, principal: InAccount) -> dict[str, Any]:
        at_least(principal, Role.ADMIN)
        return await identity.issue_api_key(gw.store, principal, body.name, body.scope)

    @router.get(
        "/api-keys",
        summary="The account's API keys (never their secrets)",
        response_model=KeyList,
        responses=errors(*AUTH_ERRORS),
    )
    async def keys(principal: InAccount) -> dict[str, Any]:
        at_least(principal, Role.ADMIN)
        return {"items": await gw.store.api_keys(principal.account_id)}

    @router.delete(
        "/api-keys/{key_id}",
        status_code=204,
        summary="Revoke an API key",
        responses=errors(*AUTH_ERRORS, 404),
    )
    async def revoke(key_id: uuid.UUID, principal: InAccount) -> Response:
        at_least(principal, Role.ADMIN)
        if not await identity.revoke_api_key(gw.store, principal, key_id, gw.access):
            raise NotFound("no such active API key")
        return Response(status_code=204)

    return router
