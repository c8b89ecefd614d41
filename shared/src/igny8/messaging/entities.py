"""Keeping local copies of another service's entities from their snapshot events (DESIGN §3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


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
