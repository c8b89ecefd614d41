"""The cost table, cached per version: prices are read once per change, not once per command.

The cost table is append-only (a price change adds a version), so the rows themselves say which
version is cached: the highest row id and the row count (a row removed by hand changes the count).
A reader asks for that pair — one index-only query, shared by a whole consumed batch — and reloads
the rows only when it moved. Price lists are memoized per effective version, i.e. per set of rows
in force, so every command of a batch priced at the same moment shares one `PriceList`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_tables import cost_table
from billing.domain.pricing import Price, PriceList, Unit

Version = tuple[str, int, int]
"""(database, highest row id, row count)."""


@dataclass
class _Table:
    version: Version
    by_operation: dict[str, list[tuple[datetime, int, Price]]]
    """Each operation's rows in (effective_at, id) order: the last one at or before a moment
    is the price in force then (ties broken by the later id, as the SQL query does)."""
    lists: dict[tuple[int, ...], PriceList] = field(default_factory=dict)

    def prices_at(self, when: datetime) -> PriceList:
        chosen: dict[str, Price] = {}
        ids: list[int] = []
        for operation, rows in self.by_operation.items():
            n = bisect.bisect_right([r[0] for r in rows], when)
            if n:
                _, row_id, price = rows[n - 1]
                chosen[operation] = price
                ids.append(row_id)
        key = tuple(sorted(ids))
        if key not in self.lists:
            self.lists[key] = PriceList(chosen)
        return self.lists[key]


class PriceCache:
    """Process-wide; one entry per database (tests and benchmarks use several)."""

    def __init__(self) -> None:
        self._tables: dict[str, _Table] = {}

    async def version(self, session: AsyncSession) -> Version:
        row = (
            await session.execute(
                sa.select(sa.func.coalesce(sa.func.max(cost_table.c.id), 0), sa.func.count())
            )
        ).one()
        return self.version_of(session, row[0], row[1])

    @staticmethod
    def version_of(session: AsyncSession, highest_id: int, rows: int) -> Version:
        """The version named by the cost table's highest id and row count (read elsewhere, e.g.
        in a ledger batch's one read statement)."""
        return (_database(session), int(highest_id), int(rows))

    async def prices_at(
        self, session: AsyncSession, when: datetime, version: Version | None = None
    ) -> PriceList:
        """Prices in force at `when`; `version` when the caller asked for it already."""
        version = version or await self.version(session)
        table = self._tables.get(version[0])
        if table is None or table.version != version:
            table = await self._load(session)
            self._tables[version[0]] = table
        return table.prices_at(when)

    async def _load(self, session: AsyncSession) -> _Table:
        rows = (await session.execute(sa.select(cost_table))).all()
        by_operation: dict[str, list[tuple[datetime, int, Price]]] = {}
        for r in rows:
            price = Price(
                r.operation,
                Unit(r.unit),
                r.credits_per_unit,
                r.minimum_credits,
                r.display_name,
                r.effective_at,
            )
            by_operation.setdefault(r.operation, []).append((r.effective_at, r.id, price))
        for entries in by_operation.values():
            entries.sort(key=lambda e: (e[0], e[1]))
        # The version of exactly the rows read (a change committed between the two queries is
        # then picked up next time, never cached under the older version).
        version = (_database(session), max((r.id for r in rows), default=0), len(rows))
        return _Table(version, by_operation)


def _database(session: AsyncSession) -> str:
    bind: Any = session.get_bind()
    return str(bind.url)


PRICES = PriceCache()
