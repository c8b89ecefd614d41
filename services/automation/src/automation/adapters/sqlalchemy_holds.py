"""A run's credit holds (`run_holds`) as the credit saga's HoldBook: the owner is the run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Unpack

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from automation.adapters.sqlalchemy_tables import run_holds
from igny8.contracts import credits as wire
from igny8.credit_saga import Hold, HoldChanges, HoldStatus


def _hold(row: Any) -> Hold:
    return Hold(
        reservation_id=row.reservation_id,
        status=HoldStatus(row.status),
        remaining=int(row.remaining),
        prices={op: wire.Price.model_validate(p) for op, p in (row.prices or {}).items()},
        expires_at=row.expires_at,
        created_at=row.created_at,
        request=tuple(wire.ReserveItem.model_validate(i) for i in (row.request or [])),
        reply=row.reply,
    )


class SqlAlchemyRunHolds:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def holds(self, owner_id: uuid.UUID, *, for_update: bool = False) -> list[Hold]:
        query = (
            sa.select(run_holds)
            .where(run_holds.c.run_id == owner_id)
            .order_by(run_holds.c.created_at, run_holds.c.reservation_id)
        )
        if for_update:
            query = query.with_for_update()
        return [_hold(r) for r in await self.session.execute(query)]

    async def hold(self, reservation_id: uuid.UUID) -> Hold | None:
        row = (
            await self.session.execute(
                sa.select(run_holds).where(run_holds.c.reservation_id == reservation_id)
            )
        ).first()
        return _hold(row) if row is not None else None

    async def owner_of(self, reservation_id: uuid.UUID) -> uuid.UUID | None:
        found = await self.session.execute(
            sa.select(run_holds.c.run_id).where(run_holds.c.reservation_id == reservation_id)
        )
        return found.scalar()

    async def add(
        self,
        owner_id: uuid.UUID,
        account_id: uuid.UUID,
        reservation_id: uuid.UUID,
        request: Sequence[wire.ReserveItem],
    ) -> None:
        await self.session.execute(
            sa.insert(run_holds).values(
                reservation_id=reservation_id,
                run_id=owner_id,
                account_id=account_id,
                status=HoldStatus.REQUESTED,
                request=[i.model_dump(mode="json") for i in request],
            )
        )

    async def update(self, reservation_id: uuid.UUID, **values: Unpack[HoldChanges]) -> None:
        columns: dict[str, object] = dict(values)
        if (prices := values.get("prices")) is not None:  # JSON: the wire form
            columns["prices"] = {op: p.model_dump(mode="json") for op, p in prices.items()}
        await self.session.execute(
            sa.update(run_holds)
            .where(run_holds.c.reservation_id == reservation_id)
            .values(**columns)
        )
