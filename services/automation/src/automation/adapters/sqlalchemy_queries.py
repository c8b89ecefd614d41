"""Read side of the automation API: the library's lists and items, a site's runs, a run's view
(stage results, live item tally, credit holds) and an image's storage key. Every query is scoped
by the caller's account; nothing here writes. Rows are JSON-ready views for HTTP answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from automation.adapters.sqlalchemy_checkpoints import SqlAlchemyItemCheckpoints
from automation.adapters.sqlalchemy_library import LISTABLE
from automation.adapters.sqlalchemy_tables import (
    images,
    known_sites,
    run_holds,
    runs,
    stage_results,
)

RUN_INTERNALS = ("config", "lease_owner", "lease_expires_at", "queue_announced_at")
"""Left out of run answers (the fencing token stays: it shows a lease was taken over)."""
_PUBLIC_RUN = [c for c in runs.c if c.name not in RUN_INTERNALS]


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


class SqlAlchemyAutomationQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def site_known(self, account_id: uuid.UUID, site_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            sa.select(known_sites.c.site_id).where(
                known_sites.c.site_id == site_id,
                known_sites.c.account_id == account_id,
                ~known_sites.c.deleted,
            )
        )
        return found.first() is not None

    async def listing(
        self,
        kind: str,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        limit: int,
        offset: int,
        status: str | None,
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> list[dict[str, Any]]:
        """One page of a library list, oldest first (the caller asks for one row more than it
        shows, to know whether there is a next page). `after` is a keyset position — the
        (created_at, id) of the last row already seen: rows added meanwhile come after it, so
        no row is skipped or repeated, unlike with an offset."""
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        query = sa.select(table).where(table.c.account_id == account_id, table.c.site_id == site_id)
        if status and "status" in table.c:
            query = query.where(table.c.status == status)
        if after is not None:
            query = query.where(sa.tuple_(table.c.created_at, key) > sa.tuple_(*after))
        return _rows(
            await self.session.execute(
                query.order_by(table.c.created_at, key).limit(limit).offset(offset)
            )
        )

    async def item(
        self, kind: str, account_id: uuid.UUID, site_id: uuid.UUID, item_id: uuid.UUID
    ) -> dict[str, Any] | None:
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        found = await self.session.execute(
            sa.select(table).where(
                table.c.account_id == account_id, table.c.site_id == site_id, key == item_id
            )
        )
        row = found.first()
        return dict(row._mapping) if row is not None else None

    async def runs_of_site(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        limit: int,
        offset: int,
        before: tuple[datetime, uuid.UUID] | None = None,
    ) -> list[dict[str, Any]]:
        """The site's runs, newest first; `before`: the keyset position of the last run a
        previous page showed (runs started meanwhile come first, so they shift nothing)."""
        query = sa.select(*_PUBLIC_RUN).where(
            runs.c.account_id == account_id, runs.c.site_id == site_id
        )
        if before is not None:
            query = query.where(sa.tuple_(runs.c.created_at, runs.c.run_id) < sa.tuple_(*before))
        return _rows(
            await self.session.execute(
                query.order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
                .limit(limit)
                .offset(offset)
            )
        )

    async def run(self, account_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any] | None:
        found = await self.session.execute(
            sa.select(*_PUBLIC_RUN).where(runs.c.run_id == run_id, runs.c.account_id == account_id)
        )
        row = found.first()
        return dict(row._mapping) if row is not None else None

    async def run_view(self, account_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any] | None:
        """The run with its stage results, its live item tally and its credit holds."""
        run = await self.run(account_id, run_id)
        if run is None:
            return None
        results = await self.session.execute(
            sa.select(stage_results.c.stage, stage_results.c.result).where(
                stage_results.c.run_id == run_id
            )
        )
        holds = await self.session.execute(
            sa.select(run_holds)
            .where(run_holds.c.run_id == run_id)
            .order_by(run_holds.c.created_at)
        )
        return {
            **run,
            "stage_results": {stage: result for stage, result in results},
            "progress": await SqlAlchemyItemCheckpoints(self.session).item_tally(run_id),
            "holds": _rows(holds),
        }

    async def image_key(self, account_id: uuid.UUID, image_id: uuid.UUID) -> str | None:
        found = await self.session.execute(
            sa.select(images.c.storage_key).where(
                images.c.image_id == image_id, images.c.account_id == account_id
            )
        )
        key: str | None = found.scalar()
        return key
