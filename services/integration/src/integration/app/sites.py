"""Site registry use cases: every change is an entity snapshot on the bus."""

from __future__ import annotations

import uuid
from typing import Any

from integration.app.snapshots import integration_snapshot, site_snapshot
from integration.domain.errors import InvalidInput, NotFound
from integration.domain.model import Site, check_timezone, normalize_url
from integration.ports import UnitOfWork


async def create_site(account_id: uuid.UUID, fields: dict[str, Any], uow: UnitOfWork) -> Site:
    name = str(fields.get("name") or "").strip()
    if not name:
        raise InvalidInput("name is required")
    site = Site(
        site_id=uuid.uuid4(),
        account_id=account_id,
        name=name,
        url=normalize_url(str(fields.get("url") or "")),
        sector=fields.get("sector") or "",
        niche=fields.get("niche") or "",
        language=fields.get("language") or "en",
        timezone=check_timezone(fields.get("timezone") or "UTC"),
    )
    await uow.sites.add(site)
    await uow.emit("site.created", site_snapshot(site), account_id, site.site_id)
    return site


async def get_site(account_id: uuid.UUID, site_id: uuid.UUID, uow: UnitOfWork) -> Site:
    site = await uow.sites.get(account_id, site_id)
    if site is None:
        raise NotFound("site not found")
    return site


async def update_site(
    account_id: uuid.UUID, site_id: uuid.UUID, changes: dict[str, Any], uow: UnitOfWork
) -> Site:
    site = await get_site(account_id, site_id, uow)
    if "name" in changes and not str(changes["name"] or "").strip():
        raise InvalidInput("name must not be empty")
    site.update(**changes)
    await uow.sites.save(site)
    await uow.emit("site.updated", site_snapshot(site), account_id, site_id)
    return site


async def delete_site(account_id: uuid.UUID, site_id: uuid.UUID, uow: UnitOfWork) -> None:
    """Soft-deletes the site and removes its integrations; consumers see `deleted: true`."""
    site = await get_site(account_id, site_id, uow)
    for integration in await uow.integrations.for_site(account_id, site_id):
        integration.remove()
        integration.credentials = None
        await uow.integrations.save(integration)
        await uow.emit(
            "integration.removed", integration_snapshot(integration), account_id, site_id
        )
    site.delete()
    await uow.sites.save(site)
    await uow.emit("site.deleted", site_snapshot(site), account_id, site_id)
