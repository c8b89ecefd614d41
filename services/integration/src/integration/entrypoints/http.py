"""Internal HTTP API of integration (service token, X-Account-Id). Thin: parse, authorize, call
one use case, map the outcome. Another account's site or integration answers 404."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from igny8.auth import Caller
from igny8.webapi import INT32_MAX, error_response, errors
from integration.adapters.aesgcm_credentials import mask
from integration.adapters.sqlalchemy_tables import inventory, sync_events
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app import integrations as usecases
from integration.app.sites import create_site, delete_site, get_site, update_site
from integration.app.sync import sync_integration
from integration.domain.errors import IntegrationError
from integration.domain.model import Integration, Site, SyncSchedule
from integration.entrypoints.http_models import (
    Credentials,
    Health,
    IntegrationBody,
    IntegrationList,
    IntegrationPatch,
    IntegrationView,
    InventoryPage,
    SiteBody,
    SitePage,
    SitePatch,
    SiteView,
    SyncResult,
    TestResult,
)
from integration.ports import Clock, CredentialCipher, PlatformConnector


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
    schedule: SyncSchedule | None = None,
) -> APIRouter:
    router = APIRouter()
    Gateway = Annotated[Caller, Depends(admits("gateway"))]
    Publishing = Annotated[Caller, Depends(admits("publishing"))]

    def uow() -> IntegrationUnitOfWork:
        return IntegrationUnitOfWork(sessions)

    @router.post(
        "/sites",
        status_code=201,
        tags=["sites"],
        summary="Register a site (announced as site.created)",
        response_model=SiteView,
    )
    async def create(body: SiteBody, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            site = await create_site(caller.require_account(), body.model_dump(), u)
            await u.commit()
        return site_view(site)

    @router.get(
        "/sites",
        tags=["sites"],
        summary="The account's sites, oldest first",
        response_model=SitePage,
    )
    async def list_sites(
        caller: Gateway,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
    ) -> dict[str, Any]:
        async with uow() as u:
            found = await u.sites.list(caller.require_account(), limit + 1, offset)
        return {
            "items": [site_view(s) for s in found[:limit]],
            "limit": limit,
            "offset": offset,
            "has_more": len(found) > limit,
        }

    @router.get(
        "/sites/{site_id}",
        tags=["sites"],
        summary="One site",
        response_model=SiteView,
        responses=errors(404),
    )
    async def read(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            return site_view(await get_site(caller.require_account(), site_id, u))

    @router.patch(
        "/sites/{site_id}",
        tags=["sites"],
        summary="Change the given fields of a site (announced as site.updated)",
        response_model=SiteView,
        responses=errors(404),
    )
    async def patch(site_id: uuid.UUID, body: SitePatch, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            site = await update_site(
                caller.require_account(), site_id, body.model_dump(exclude_unset=True), u
            )
            await u.commit()
        return site_view(site)

    @router.delete(
        "/sites/{site_id}",
        status_code=204,
        tags=["sites"],
        summary="Delete a site and remove its integrations (announced as site.deleted)",
        response_class=Response,
        responses=errors(404),
    )
    async def remove(site_id: uuid.UUID, caller: Gateway) -> Response:
        async with uow() as u:
            await delete_site(caller.require_account(), site_id, u)
            await u.commit()
        return Response(status_code=204)

    @router.post(
        "/sites/{site_id}/integrations",
        status_code=201,
        tags=["integrations"],
        summary="Connect a WordPress, Shopify or static destination to a site",
        response_model=IntegrationView,
        responses=errors(404),
    )
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

    @router.get(
        "/sites/{site_id}/integrations",
        tags=["integrations"],
        summary="A site's integrations (credentials masked)",
        response_model=IntegrationList,
        responses=errors(404),
    )
    async def site_integrations(site_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        account = caller.require_account()
        async with uow() as u:
            await get_site(account, site_id, u)
            found = await u.integrations.for_site(account, site_id)
        return {"items": [integration_view(i, cipher) for i in found], "has_more": False}

    @router.get(
        "/integrations/{integration_id}",
        tags=["integrations"],
        summary="One integration (credentials masked)",
        response_model=IntegrationView,
        responses=errors(404),
    )
    async def read_integration(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        async with uow() as u:
            return integration_view(
                await usecases.get_integration(caller.require_account(), integration_id, u), cipher
            )

    @router.patch(
        "/integrations/{integration_id}",
        tags=["integrations"],
        summary="Change an integration: given fields only, settings merged (null removes a key)",
        response_model=IntegrationView,
        responses=errors(404),
    )
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

    @router.delete(
        "/integrations/{integration_id}",
        status_code=204,
        tags=["integrations"],
        summary="Remove an integration and forget its credentials",
        response_class=Response,
        responses=errors(404),
    )
    async def delete_integration(integration_id: uuid.UUID, caller: Gateway) -> Response:
        async with uow() as u:
            await usecases.remove_integration(caller.require_account(), integration_id, u)
            await u.commit()
        return Response(status_code=204)

    @router.post(
        "/integrations/{integration_id}/test",
        tags=["integrations"],
        summary="Test the connection; a failing site answers success=false with the reason",
        response_model=TestResult,
        responses=errors(404),
    )
    async def test(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        integration = await usecases.test_connection(
            caller.require_account(), integration_id, uow, cipher, connector, clock
        )
        view = integration_view(integration, cipher)
        return {**view["last_test"], "health_score": integration.health_score}

    @router.post(
        "/integrations/{integration_id}/sync",
        tags=["integrations"],
        summary="Pull categories, tags and posts into the inventory now",
        response_model=SyncResult,
        responses=errors(404),
    )
    async def sync(integration_id: uuid.UUID, caller: Gateway) -> dict[str, Any]:
        summary = await sync_integration(
            caller.require_account(), integration_id, uow, cipher, connector, clock, schedule
        )
        return {
            "sync_id": str(summary.sync_id),
            "success": summary.success,
            "reason": summary.reason,
            "detail": summary.detail,
            "added": summary.added,
            "changed": summary.changed,
            "removed": summary.removed,
        }

    @router.get(
        "/integrations/{integration_id}/health",
        tags=["integrations"],
        summary="Health score, sync status and the 20 latest syncs and tests",
        response_model=Health,
        responses=errors(404),
    )
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

    @router.get(
        "/sites/{site_id}/inventory",
        tags=["sites"],
        summary="What the site's integrations found on the site (categories, tags, posts, files)",
        response_model=InventoryPage,
        responses=errors(404),
    )
    async def site_inventory(
        site_id: uuid.UUID,
        caller: Gateway,
        kind: Annotated[str | None, Query(max_length=40)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=INT32_MAX)] = 0,
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
                query.order_by(inventory.c.kind, inventory.c.remote_id)
                .limit(limit + 1)
                .offset(offset)
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
        return {
            "items": items[:limit],
            "limit": limit,
            "offset": offset,
            "has_more": len(items) > limit,
        }

    @router.get(
        "/internal/integrations/{integration_id}/credentials",
        tags=["internal"],
        summary="Decrypted credentials of one integration (publishing only)",
        response_model=Credentials,
        responses=errors(404),
    )
    async def credentials(integration_id: uuid.UUID, caller: Publishing) -> dict[str, Any]:
        """The decrypted credentials of one integration — for publishing and nobody else."""
        async with uow() as u:
            plaintext = await usecases.credentials_for_publishing(
                caller.require_account(), integration_id, u, cipher
            )
        return {"integration_id": str(integration_id), "credentials": plaintext}

    return router
