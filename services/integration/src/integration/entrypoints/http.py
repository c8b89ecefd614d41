"""Internal HTTP API of integration (service token, X-Account-Id). Thin: parse, authorize, call
one use case, map the outcome. Another account's site or integration answers 404."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.auth import Caller
from igny8.webapi import error_response
from integration.adapters.aesgcm_credentials import mask
from integration.adapters.sqlalchemy_tables import inventory, sync_events
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app import integrations as usecases
from integration.app.sites import create_site, delete_site, get_site, update_site
from integration.app.sync import sync_integration
from integration.domain.errors import IntegrationError
from integration.domain.model import Integration, Site
from integration.ports import Clock, CredentialCipher, PlatformConnector


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteBody(_Body):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(max_length=2000)
    sector: str = Field(default="", max_length=200)
    niche: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=20)
    timezone: str = Field(default="UTC", max_length=64)


class SitePatch(_Body):
    name: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    sector: str | None = Field(default=None, max_length=200)
    niche: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=20)
    timezone: str | None = Field(default=None, max_length=64)


class IntegrationBody(_Body):
    platform: str
    base_url: str = Field(max_length=2000)
    settings: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, str] | None = None
    is_active: bool = True
    sync_enabled: bool = True


class IntegrationPatch(_Body):
    base_url: str | None = None
    settings: dict[str, Any] | None = None
    credentials: dict[str, str] | None = None
    is_active: bool | None = None
    sync_enabled: bool | None = None


def site_view(site: Site) -> dict[str, Any]:
    return {
        "site_id": str(site.site_id),
        "account_id": str(site.account_id),
        "name": site.name,
        "url": site.url,
        "sector": site.sector,
        "niche": site.niche,
        "language": site.language,
        "timezone": site.timezone,
        "version": site.version,
    }


def integration_view(integration: Integration, cipher: CredentialCipher) -> dict[str, Any]:
    test = integration.last_test
    return {
        "integration_id": str(integration.integration_id),
        "site_id": str(integration.site_id),
        "platform": integration.platform.value,
        "base_url": integration.base_url,
        "settings": integration.settings,
        "is_active": integration.is_active,
        "sync_enabled": integration.sync_enabled,
        "sync_status": integration.sync_status,
        "last_error": integration.last_error,
        "health_score": integration.health_score,
        "version": integration.version,
        "credentials": mask(usecases.decrypt(integration, cipher))
        if integration.credentials
        else None,
        "last_test": {
            "success": test.success,
            "reason": test.reason,
            "detail": test.detail,
            "checked_at": test.checked_at.isoformat() if test.checked_at else None,
        }
        if test
        else None,
        "last_synced_at": integration.last_synced_at.isoformat()
        if integration.last_synced_at
        else None,
    }


def integration_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A domain error in the platform's one error format."""
    assert isinstance(error, IntegrationError)
    return error_response(request, error.status, error.detail, code=error.code)


def create_router(
    sessions: async_sessionmaker[AsyncSession],
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
    admits: Callable[..., Callable[..., Caller]],
) -> APIRouter:
    router = APIRouter()
    Gateway = Annotated[Caller, Depends(admits("gateway"))]
    Publishing = Annotated[Caller, Depends(admits("publishing"))]

    def uow() -> IntegrationUnitOfWork:
        return IntegrationUnitOfWork(sessions)

    @router.post("/sites", status_code=201, tags=["sites"])
    async def create(body: SiteBody, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            site = await create_site(caller.require_account(), body.model_dump(), u)
            await u.commit()
        return site_view(site)

    @router.get("/sites", tags=["sites"])
    async def list_sites(
        caller: Gateway,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        async with uow() as u:
            found = await u.sites.list(caller.require_account(), limit, offset)
        return {"items": [site_view(s) for s in found], "limit": limit, "offset": offset}

    @router.get("/sites/{site_id}", tags=["sites"])
    async def read(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            return site_view(await get_site(caller.require_account(), site_id, u))

    @router.patch("/sites/{site_id}", tags=["sites"])
    async def patch(site_id: uuid.UUID, body: SitePatch, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            site = await update_site(
                caller.require_account(), site_id, body.model_dump(exclude_unset=True), u
            )
            await u.commit()
        return site_view(site)

    @router.delete("/sites/{site_id}", status_code=204, tags=["sites"])
    async def remove(site_id: uuid.UUID, caller: Gateway) -> Response:
        async with uow() as u:
            await delete_site(caller.require_account(), site_id, u)
            await u.commit()
        return Response(status_code=204)

    @router.post("/sites/{site_id}/integrations", status_code=201, tags=["integrations"])
    async def add_integration(
        site_id: uuid.UUID, body: IntegrationBody, caller: Gateway
    ) -> dict[str, Any]:
        fields = body.model_dump(exclude={"credentials"})
        async with uow() as u:
            integration = await usecases.create_integration(
                caller.require_account(), site_id, fields, body.credentials, u, cipher
            )
            await u.commit()
        return integration_view(integration, cipher)

    @router.get("/sites/{site_id}/integrations", tags=["integrations"])
    async def site_integrations(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        account = caller.require_account()
        async with uow() as u:
            await get_site(account, site_id, u)
            found = await u.integrations.for_site(account, site_id)
        return {"items": [integration_view(i, cipher) for i in found]}

    @router.get("/integrations/{integration_id}", tags=["integrations"])
    async def read_integration(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            return integration_view(
                await usecases.get_integration(caller.require_account(), integration_id, u), cipher
            )

    @router.patch("/integrations/{integration_id}", tags=["integrations"])
    async def patch_integration(
        integration_id: uuid.UUID, body: IntegrationPatch, caller: Gateway
    ) -> dict[str, Any]:
        async with uow() as u:
            integration = await usecases.update_integration(
                caller.require_account(),
                integration_id,
                body.model_dump(exclude={"credentials"}, exclude_unset=True),
                body.credentials,
                u,
                cipher,
            )
            await u.commit()
        return integration_view(integration, cipher)

    @router.delete("/integrations/{integration_id}", status_code=204, tags=["integrations"])
    async def delete_integration(integration_id: uuid.UUID, caller: Gateway) -> Response:
        async with uow() as u:
            await usecases.remove_integration(caller.require_account(), integration_id, u)
            await u.commit()
        return Response(status_code=204)

    @router.post("/integrations/{integration_id}/test", tags=["integrations"])
    async def test(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            integration = await usecases.test_connection(
                caller.require_account(), integration_id, u, cipher, connector, clock
            )
            await u.commit()
        view = integration_view(integration, cipher)
        return {**view["last_test"], "health_score": integration.health_score}

    @router.post("/integrations/{integration_id}/sync", tags=["integrations"])
    async def sync(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            summary = await sync_integration(
                caller.require_account(), integration_id, u, cipher, connector, clock
            )
            await u.commit()
        return {
            "sync_id": str(summary.sync_id),
            "success": summary.success,
            "reason": summary.reason,
            "detail": summary.detail,
            "added": summary.added,
            "changed": summary.changed,
            "removed": summary.removed,
        }

    @router.get("/integrations/{integration_id}/health", tags=["integrations"])
    async def health(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        account = caller.require_account()
        async with uow() as u:
            integration = await usecases.get_integration(account, integration_id, u)
            rows = await u.session.execute(
                sync_events.select()
                .where(
                    sync_events.c.account_id == account,
                    sync_events.c.integration_id == integration_id,
                )
                .order_by(sync_events.c.id.desc())
                .limit(20)
            )
            recent = [
                {
                    "sync_id": str(r.sync_id),
                    "kind": r.kind,
                    "success": r.success,
                    "reason": r.reason,
                    "added": r.added,
                    "changed": r.changed,
                    "removed": r.removed,
                    "at": r.created_at.isoformat(),
                }
                for r in rows
            ]
        view = integration_view(integration, cipher)
        return {
            "health_score": integration.health_score,
            "sync_status": integration.sync_status,
            "last_error": integration.last_error,
            "last_test": view["last_test"],
            "recent": recent,
        }

    @router.get("/sites/{site_id}/inventory", tags=["sites"])
    async def site_inventory(
        site_id: uuid.UUID,
        caller: Gateway,
        kind: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        account = caller.require_account()
        async with uow() as u:
            await get_site(account, site_id, u)
            query = inventory.select().where(
                inventory.c.account_id == account, inventory.c.site_id == site_id
            )
            if kind:
                query = query.where(inventory.c.kind == kind)
            rows = await u.session.execute(
                query.order_by(inventory.c.kind, inventory.c.remote_id).limit(limit).offset(offset)
            )
            items = [
                {
                    "integration_id": str(r.integration_id),
                    "kind": r.kind,
                    "remote_id": r.remote_id,
                    "title": r.title,
                    "url": r.url,
                    "excerpt": r.excerpt,
                    "modified_at": r.modified_at.isoformat() if r.modified_at else None,
                }
                for r in rows
            ]
        return {"items": items, "limit": limit, "offset": offset}

    @router.get("/internal/integrations/{integration_id}/credentials", tags=["internal"])
    async def credentials(integration_id: uuid.UUID, caller: Publishing) -> dict[str, Any]:
        """The decrypted credentials of one integration — for publishing and nobody else."""
        async with uow() as u:
            plaintext = await usecases.credentials_for_publishing(
                caller.require_account(), integration_id, u, cipher
            )
        return {"integration_id": str(integration_id), "credentials": plaintext}

    return router
