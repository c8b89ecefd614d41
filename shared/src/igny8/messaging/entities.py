"""Keeping local copies of another service's entities from their snapshot events (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts.sites import SiteSnapshot


async def keep_newest(session: AsyncSession, table: sa.Table, values: dict[str, Any]) -> bool:
    """Upsert a snapshot unless a newer version is already stored; True when it was applied.

    The table's primary key identifies the entity and it has an integer `version` column.
    """
    keys = [c.name for c in table.primary_key.columns]
    statement = insert(table).values(**values)
    applied = await session.execute(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: statement.excluded[name] for name in values if name not in keys},
            where=table.c.version < statement.excluded.version,
        ).returning(sa.literal(1))
    )
    return applied.first() is not None


def site_replica_table(metadata: sa.MetaData, name: str = "known_sites") -> sa.Table:
    """The newest `site.*` snapshot per site, as every consumer of integration's sites keeps it
    (automation, publishing): who owns the site, whether it is deleted, what it is about."""
    return sa.Table(
        name,
        metadata,
        sa.Column("site_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("sector", sa.Text, nullable=False, server_default=""),
        sa.Column("niche", sa.Text, nullable=False, server_default=""),
        sa.Column("language", sa.Text, nullable=False, server_default="en"),
    )


def site_replica_values(snapshot: SiteSnapshot) -> dict[str, Any]:
    """A snapshot as a row of `site_replica_table`."""
    return {
        "site_id": snapshot.site_id,
        "account_id": snapshot.account_id,
        "version": snapshot.version,
        "deleted": snapshot.deleted,
        "name": snapshot.name,
        "url": str(snapshot.url),
        "sector": snapshot.sector,
        "niche": snapshot.niche,
        "language": snapshot.language,
    }


async def keep_site(session: AsyncSession, table: sa.Table, snapshot: SiteSnapshot) -> bool:
    """Keep the snapshot unless a newer one is stored; True when it was applied."""
    return await keep_newest(session, table, site_replica_values(snapshot))
