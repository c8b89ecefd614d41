"""PostgreSQL repositories of the integration service; every query is scoped by account_id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts.sites import InventoryItem
from integration.adapters.sqlalchemy_tables import integrations, inventory, sites, sync_events
from integration.domain.model import ConnectionResult, Integration, Platform, Site
from integration.ports import SyncRecord


def _site(row: Any) -> Site:
    return Site(
        site_id=row.site_id,
        account_id=row.account_id,
        name=row.name,
        url=row.url,
        sector=row.sector,
        niche=row.niche,
        language=row.language,
        timezone=row.timezone,
        version=row.version,
        deleted=row.deleted_at is not None,
    )


def _site_values(site: Site) -> dict[str, Any]:
    return {
        "name": site.name,
        "url": site.url,
        "sector": site.sector,
        "niche": site.niche,
        "language": site.language,
        "timezone": site.timezone,
        "version": site.version,
        "deleted_at": datetime.now(UTC) if site.deleted else None,
    }


class SqlAlchemySiteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, site: Site) -> None:
        await self.session.execute(
            sa.insert(sites).values(
                site_id=site.site_id, account_id=site.account_id, **_site_values(site)
            )
        )

    async def get(self, account_id: uuid.UUID, site_id: uuid.UUID) -> Site | None:
        row = (
            await self.session.execute(
                sa.select(sites)
                .where(
                    sites.c.account_id == account_id,
                    sites.c.site_id == site_id,
                    sites.c.deleted_at.is_(None),
                )
                .with_for_update()
            )
        ).first()
        return _site(row) if row else None

    async def list(self, account_id: uuid.UUID, limit: int, offset: int) -> list[Site]:
        rows = await self.session.execute(
            sa.select(sites)
            .where(sites.c.account_id == account_id, sites.c.deleted_at.is_(None))
            .order_by(sites.c.created_at, sites.c.site_id)
            .limit(limit)
            .offset(offset)
        )
        return [_site(r) for r in rows]

    async def save(self, site: Site) -> None:
        await self.session.execute(
            sa.update(sites)
            .where(sites.c.account_id == site.account_id, sites.c.site_id == site.site_id)
            .values(**_site_values(site))
        )


def _integration(row: Any) -> Integration:
    test = row.last_test
    return Integration(
        integration_id=row.integration_id,
        site_id=row.site_id,
        account_id=row.account_id,
        platform=Platform(row.platform),
        base_url=row.base_url,
        settings=row.settings,
        is_active=row.is_active,
        sync_enabled=row.sync_enabled,
        sync_status=row.sync_status,
        last_error=row.last_error,
        health_score=row.health_score,
        version=row.version,
        deleted=row.deleted_at is not None,
        credentials=row.credentials,
        last_test=ConnectionResult(
            test["success"],
            test["reason"],
            test.get("detail", ""),
            datetime.fromisoformat(test["checked_at"]),
        )
        if test
        else None,
        last_synced_at=row.last_synced_at,
        next_sync_at=row.next_sync_at,
        last_sync_attempt_at=row.last_sync_attempt_at,
        sync_failures=row.sync_failures,
    )


def _integration_values(i: Integration) -> dict[str, Any]:
    test = i.last_test
    return {
        "base_url": i.base_url,
        "settings": i.settings,
        "is_active": i.is_active,
        "sync_enabled": i.sync_enabled,
        "sync_status": i.sync_status,
        "last_error": i.last_error,
        "health_score": i.health_score,
        "version": i.version,
        "credentials": i.credentials,
        "credential_key_id": i.credentials.split(b".", 2)[1].decode() if i.credentials else None,
        "last_test": {
            "success": test.success,
            "reason": test.reason,
            "detail": test.detail,
            "checked_at": test.checked_at.isoformat() if test.checked_at else None,
        }
        if test
        else None,
        "last_synced_at": i.last_synced_at,
        "next_sync_at": i.next_sync_at,
        "last_sync_attempt_at": i.last_sync_attempt_at,
        "sync_failures": i.sync_failures,
        "deleted_at": datetime.now(UTC) if i.deleted else None,
    }


class SqlAlchemyIntegrationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, integration: Integration) -> None:
        await self.session.execute(
            sa.insert(integrations).values(
                integration_id=integration.integration_id,
                site_id=integration.site_id,
                account_id=integration.account_id,
                platform=integration.platform.value,
                **_integration_values(integration),
            )
        )

    async def get(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> Integration | None:
        row = (
            await self.session.execute(
                sa.select(integrations)
                .where(
                    integrations.c.account_id == account_id,
                    integrations.c.integration_id == integration_id,
                )
                .with_for_update()
            )
        ).first()
        return _integration(row) if row else None

    async def for_site(self, account_id: uuid.UUID, site_id: uuid.UUID) -> list[Integration]:
        """Locked, like `get`: every change of an integration reads the version it increments
        under the row lock, so no two snapshots carry the same version (deleting a site while
        its integration records a sync would otherwise emit version n+1 twice)."""
        rows = await self.session.execute(
            sa.select(integrations)
            .where(
                integrations.c.account_id == account_id,
                integrations.c.site_id == site_id,
                integrations.c.deleted_at.is_(None),
            )
            .order_by(integrations.c.created_at, integrations.c.integration_id)
            .with_for_update()
        )
        return [_integration(r) for r in rows]

    async def save(self, integration: Integration) -> None:
        await self.session.execute(
            sa.update(integrations)
            .where(
                integrations.c.account_id == integration.account_id,
                integrations.c.integration_id == integration.integration_id,
            )
            .values(**_integration_values(integration))
        )

    async def claim_due(
        self, now: datetime, limit: int, per_account: int, lease_s: float
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """Up to `limit` integrations due at `now`, at most `per_account` of any one account (so
        one tenant's many, or failing, integrations cannot take every slot), the longest
        waiting first; each is pushed back by `lease_s` so no other tick takes it meanwhile."""
        due = sa.and_(
            integrations.c.deleted_at.is_(None),
            integrations.c.is_active,
            integrations.c.sync_enabled,
            sa.or_(integrations.c.next_sync_at.is_(None), integrations.c.next_sync_at <= now),
        )
        waiting = sa.func.coalesce(
            integrations.c.next_sync_at, sa.literal_column("'-infinity'::timestamptz")
        )
        ranked = (
            sa.select(
                integrations.c.integration_id,
                waiting.label("waiting"),
                sa.func.row_number()
                .over(
                    partition_by=integrations.c.account_id,
                    order_by=(waiting, integrations.c.integration_id),
                )
                .label("rank"),
            )
            .where(due)
            .subquery()
        )
        chosen = (
            sa.select(ranked.c.integration_id)
            .where(ranked.c.rank <= per_account)
            .order_by(ranked.c.waiting, ranked.c.integration_id)
            .limit(limit)
        )
        rows = await self.session.execute(
            sa.update(integrations)
            .where(integrations.c.integration_id.in_(chosen), due)
            .values(next_sync_at=now + timedelta(seconds=lease_s))
            .returning(integrations.c.account_id, integrations.c.integration_id)
        )
        return [(r.account_id, r.integration_id) for r in rows]

    async def with_credentials(self, limit: int, after: uuid.UUID | None) -> list[Integration]:
        query = sa.select(integrations).where(integrations.c.credentials.is_not(None))
        if after is not None:
            query = query.where(integrations.c.integration_id > after)
        rows = await self.session.execute(
            query.order_by(integrations.c.integration_id).limit(limit).with_for_update()
        )
        return [_integration(r) for r in rows]


class SqlAlchemyInventoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, integration_id: uuid.UUID) -> dict[tuple[str, str], InventoryItem]:
        rows = await self.session.execute(
            sa.select(inventory).where(inventory.c.integration_id == integration_id)
        )
        return {
            (r.kind, r.remote_id): InventoryItem(
                kind=r.kind,
                remote_id=r.remote_id,
                title=r.title,
                url=r.url,
                excerpt=r.excerpt,
                modified_at=r.modified_at,
            )
            for r in rows
        }

    async def apply(
        self, integration: Integration, upserts: list[InventoryItem], deletes: list[InventoryItem]
    ) -> None:
        if upserts:
            statement = insert(inventory)
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[
                        inventory.c.integration_id,
                        inventory.c.kind,
                        inventory.c.remote_id,
                    ],
                    set_={
                        c: statement.excluded[c]
                        for c in ("title", "url", "excerpt", "modified_at", "synced_at")
                    },
                ),
                [
                    {
                        "integration_id": integration.integration_id,
                        "account_id": integration.account_id,
                        "site_id": integration.site_id,
                        "kind": i.kind,
                        "remote_id": i.remote_id,
                        "title": i.title,
                        "url": i.url,
                        "excerpt": i.excerpt,
                        "modified_at": i.modified_at,
                        "synced_at": datetime.now(UTC),
                    }
                    for i in upserts
                ],
            )
        for item in deletes:
            await self.session.execute(
                sa.delete(inventory).where(
                    inventory.c.integration_id == integration.integration_id,
                    inventory.c.kind == item.kind,
                    inventory.c.remote_id == item.remote_id,
                )
            )


class SqlAlchemySyncEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, record: SyncRecord) -> None:
        await self.session.execute(
            sa.insert(sync_events).values(
                sync_id=record.sync_id,
                integration_id=record.integration_id,
                account_id=record.account_id,
                kind=record.kind,
                success=record.success,
                reason=record.reason,
                detail=record.detail[:2000],
                added=record.added,
                changed=record.changed,
                removed=record.removed,
            )
        )

    async def recent_outcomes(self, integration_id: uuid.UUID, limit: int) -> list[bool]:
        rows = await self.session.execute(
            sa.select(sync_events.c.success)
            .where(sync_events.c.integration_id == integration_id)
            .order_by(sync_events.c.id.desc())
            .limit(limit)
        )
        return list(rows.scalars())
