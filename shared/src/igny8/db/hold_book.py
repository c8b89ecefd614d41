"""The credit saga's HoldBook (`igny8.credit_saga`) over a service's holds table: one row per
reservation, keyed by `reservation_id`, owned by whatever the service reserves for (a run, an
optimization) through `owner_column`. The table's other columns are the hold's fields."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, Unpack

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import credits as wire
from igny8.credit_saga import Hold, HoldChanges, HoldStatus


def hold_of(row: Any) -> Hold:
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


class SqlAlchemyHoldBook:
    def __init__(self, session: AsyncSession, table: sa.Table, owner_column: str) -> None:
        self.session = session
        self.table = table
        self.owner_column = owner_column
        self.owner = table.c[owner_column]

    async def holds(self, owner_id: uuid.UUID, *, for_update: bool = False) -> list[Hold]:
        t = self.table
        query = (
            sa.select(t).where(self.owner == owner_id).order_by(t.c.created_at, t.c.reservation_id)
        )
        if for_update:
            query = query.with_for_update()
        return [hold_of(r) for r in await self.session.execute(query)]

    async def hold(self, reservation_id: uuid.UUID) -> Hold | None:
        t = self.table
        row = (
            await self.session.execute(sa.select(t).where(t.c.reservation_id == reservation_id))
        ).first()
        return hold_of(row) if row is not None else None

    async def owner_of(self, reservation_id: uuid.UUID) -> uuid.UUID | None:
        found = await self.session.execute(
            sa.select(self.owner).where(self.table.c.reservation_id == reservation_id)
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
            sa.insert(self.table).values(
                {
                    "reservation_id": reservation_id,
                    self.owner_column: owner_id,
                    "account_id": account_id,
                    "status": HoldStatus.REQUESTED,
                    "request": [i.model_dump(mode="json") for i in request],
                }
            )
        )

    async def update(self, reservation_id: uuid.UUID, **values: Unpack[HoldChanges]) -> None:
        columns: dict[str, object] = dict(values)
        if (prices := values.get("prices")) is not None:  # JSON: the wire form
            columns["prices"] = {op: p.model_dump(mode="json") for op, p in prices.items()}
        await self.session.execute(
            sa.update(self.table)
            .where(self.table.c.reservation_id == reservation_id)
            .values(**columns)
        )
