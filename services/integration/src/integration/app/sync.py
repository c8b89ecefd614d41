"""Pulling a site's structure and posts into the inventory, as a logged, scored sync."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from igny8.contracts.publications import InventoryItemSnapshot
from igny8.contracts.sites import InventoryItem, SiteSynced
from integration.app.integrations import decrypt, get_integration, record_outcome, same_target
from integration.domain.errors import IntegrationError
from integration.domain.model import Integration, SyncSchedule
from integration.ports import (
    Clock,
    CredentialCipher,
    PlatformConnector,
    PlatformUnavailable,
    SyncRecord,
    UnitOfWork,
    UnitOfWorkFactory,
)

PAGE_SIZE = 100


@dataclass(frozen=True)
class SyncSummary:
    sync_id: uuid.UUID
    success: bool
    reason: str
    added: int = 0
    changed: int = 0
    removed: int = 0
    detail: str = ""


def _same(a: InventoryItem, b: InventoryItem) -> bool:
    return (a.title, a.url, a.excerpt, a.modified_at) == (b.title, b.url, b.excerpt, b.modified_at)


async def sync_integration(
    account_id: uuid.UUID,
    integration_id: uuid.UUID,
    uows: UnitOfWorkFactory,
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
    schedule: SyncSchedule | None = None,
) -> SyncSummary:
    """Read the site's inventory and store the delta. The site is read between two short
    transactions (no row lock or pooled connection is held while it answers, or does not); the
    connector bounds the read in pages, items, bytes and time. An inventory read with settings
    that changed meanwhile, or for an integration removed meanwhile, is discarded."""
    sync_id = uuid.uuid4()
    async with uows() as uow:
        before = await get_integration(account_id, integration_id, uow)
    failure: PlatformUnavailable | None = None
    fetched: list[InventoryItem] = []
    try:
        credentials = decrypt(before, cipher)
    except IntegrationError as error:  # e.g. its key was removed from the ring before rotating
        failure = PlatformUnavailable("credentials_unreadable", error.detail)
    else:
        try:
            fetched = await connector.inventory(before, credentials)
        except PlatformUnavailable as unavailable:
            failure = unavailable
    async with uows() as uow:
        integration = await uow.integrations.get(account_id, integration_id)
        if integration is None or integration.deleted:
            return SyncSummary(sync_id, False, "removed", detail="removed during the sync")
        if not same_target(before, integration):
            return SyncSummary(
                sync_id, False, "superseded", detail="the integration changed during the sync"
            )
        integration.sync_attempted(clock.now(), failure is None, schedule or SyncSchedule())
        if failure is not None:
            summary = await _record_failure(integration, sync_id, failure, uow)
        else:
            summary = await _apply(integration, sync_id, fetched, uow, clock)
        await uow.commit()
    return summary


async def record_sync_timeout(
    account_id: uuid.UUID,
    integration_id: uuid.UUID,
    seconds: float,
    uows: UnitOfWorkFactory,
    clock: Clock,
    schedule: SyncSchedule | None = None,
) -> SyncSummary | None:
    """A sync abandoned after `seconds` is a failed attempt like any other (it backs off)."""
    async with uows() as uow:
        integration = await uow.integrations.get(account_id, integration_id)
        if integration is None or integration.deleted:
            return None
        integration.sync_attempted(clock.now(), False, schedule or SyncSchedule())
        failure = PlatformUnavailable("timeout", f"the sync took longer than {seconds:g} s")
        summary = await _record_failure(integration, uuid.uuid4(), failure, uow)
        await uow.commit()
    return summary


async def _record_failure(
    integration: Integration, sync_id: uuid.UUID, failure: PlatformUnavailable, uow: UnitOfWork
) -> SyncSummary:
    integration.sync_status = "failed"
    integration.last_error = f"{failure.reason}: {failure.detail}"
    await record_outcome(
        integration,
        SyncRecord(
            sync_id,
            integration.integration_id,
            integration.account_id,
            "sync",
            False,
            failure.reason,
            failure.detail,
        ),
        uow,
    )
    return SyncSummary(sync_id, False, failure.reason, detail=failure.detail)


async def _apply(
    integration: Integration,
    sync_id: uuid.UUID,
    fetched: list[InventoryItem],
    uow: UnitOfWork,
    clock: Clock,
) -> SyncSummary:
    integration_id, account_id = integration.integration_id, integration.account_id
    known = await uow.inventory.current(integration_id)
    seen = {(i.kind, i.remote_id): i for i in fetched}
    added = [i for k, i in seen.items() if k not in known]
    changed = [i for k, i in seen.items() if k in known and not _same(i, known[k])]
    removed = [i.model_copy(update={"change": "delete"}) for k, i in known.items() if k not in seen]
    await uow.inventory.apply(integration, added + changed, removed)
    integration.sync_status, integration.last_error = "synced", None
    integration.last_synced_at = clock.now()
    await record_outcome(
        integration,
        SyncRecord(
            sync_id,
            integration_id,
            account_id,
            "sync",
            True,
            "ok",
            "",
            len(added),
            len(changed),
            len(removed),
        ),
        uow,
    )
    delta = added + changed + removed
    pages = max(1, -(-len(delta) // PAGE_SIZE))
    for page in range(pages):
        await uow.emit(
            "site.synced",
            SiteSynced(
                site_id=integration.site_id,
                integration_id=integration_id,
                sync_id=sync_id,
                page=page + 1,
                pages=pages,
                items=delta[page * PAGE_SIZE : (page + 1) * PAGE_SIZE],
            ),
            account_id,
            integration.site_id,
        )
    # Each changed item also as a versioned snapshot on the compacted `inventory.item` topic, so a
    # consumer that joins late rebuilds the whole inventory. The sync's time (microseconds) is
    # the version: it grows with every sync that changes the item, deletions included.
    version = int(clock.now().timestamp() * 1_000_000)
    for item in delta:
        await uow.emit(
            "inventory.item",
            InventoryItemSnapshot(
                item_id=InventoryItemSnapshot.key_for(integration_id, item.kind, item.remote_id),
                integration_id=integration_id,
                site_id=integration.site_id,
                account_id=account_id,
                version=version,
                deleted=item.change == "delete",
                kind=item.kind,
                remote_id=item.remote_id,
                title=item.title,
                url=item.url,
                excerpt=item.excerpt,
                modified_at=item.modified_at,
            ),
            account_id,
            integration.site_id,
        )
    return SyncSummary(sync_id, True, "ok", len(added), len(changed), len(removed))
