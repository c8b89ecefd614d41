"""A run's item checkpoints (`run_items`) and which captures billing has answered."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import run_items
from automation.domain.runs import ItemDetail, ItemStatus

_STATE = sa.select(run_items.c.status).where(
    run_items.c.run_id == sa.bindparam("run"), run_items.c.item_key == sa.bindparam("key")
)
"""Built once: every item's commit reads it."""


class SqlAlchemyItemCheckpoints(SessionRepository):
    async def item_state(self, run_id: uuid.UUID, item_key: str) -> ItemStatus | None:
        found = await self.session.execute(_STATE, {"run": run_id, "key": item_key})
        status = found.scalar()
        return ItemStatus(status) if status is not None else None

    async def item_done(self, run_id: uuid.UUID, item_key: str) -> bool:
        return await self.item_state(run_id, item_key) is ItemStatus.DONE

    async def checkpoint(
        self,
        run_id: uuid.UUID,
        item_key: str,
        stage: int,
        status: ItemStatus,
        commit_id: uuid.UUID | None = None,
        credits: int = 0,
        detail: ItemDetail | None = None,
    ) -> None:
        statement = insert(run_items).values(
            run_id=run_id,
            item_key=item_key,
            stage=stage,
            status=status,
            commit_id=commit_id,
            credits=credits,
            detail=detail or {},
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[run_items.c.run_id, run_items.c.item_key],
                set_={
                    "status": statement.excluded.status,
                    "commit_id": statement.excluded.commit_id,
                    "credits": statement.excluded.credits,
                    "detail": statement.excluded.detail,
                },
                where=run_items.c.status != ItemStatus.DONE,
            )
        )

    async def settle_capture(self, commit_id: uuid.UUID) -> None:
        await self.session.execute(
            sa.update(run_items).where(run_items.c.commit_id == commit_id).values(settled=True)
        )

    async def unsettled_captures(self, run_id: uuid.UUID) -> int:
        return int(
            (
                await self.session.execute(
                    sa.select(sa.func.count())
                    .select_from(run_items)
                    .where(
                        run_items.c.run_id == run_id,
                        run_items.c.commit_id.is_not(None),
                        ~run_items.c.settled,
                    )
                )
            ).scalar_one()
        )

    async def item_states(self, run_id: uuid.UUID, keys: list[str]) -> dict[str, ItemStatus]:
        rows = await self.session.execute(
            sa.select(run_items.c.item_key, run_items.c.status).where(
                run_items.c.run_id == run_id, run_items.c.item_key.in_(keys)
            )
        )
        return {key: ItemStatus(status) for key, status in rows}

    async def item_tally(self, run_id: uuid.UUID) -> dict[int, dict[str, int]]:
        rows = await self.session.execute(
            sa.select(
                run_items.c.stage,
                run_items.c.status,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(run_items.c.credits), 0),
            )
            .where(run_items.c.run_id == run_id)
            .group_by(run_items.c.stage, run_items.c.status)
        )
        tally: dict[int, dict[str, int]] = {}
        for stage, status, count, credits in rows:
            entry = tally.setdefault(stage, {"done": 0, "failed": 0, "credits": 0})
            entry[status] = entry.get(status, 0) + count
            entry["credits"] += int(credits)
        return tally
