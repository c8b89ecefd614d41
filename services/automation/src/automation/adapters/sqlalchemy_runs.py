"""Runs and their leases (fencing tokens), compare-and-set status changes and stage results."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import (
    runs,
    stage_results,
)
from automation.domain.errors import RunConflict
from automation.domain.runs import DRIVEN, LIVE, LeaseLost, allowed


class SqlAlchemyRunRepository(SessionRepository):
    async def create_run(self, values: dict[str, Any]) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(sa.insert(runs).values(**values))
        except IntegrityError:
            live = await self.live_run(values["site_id"])
            raise RunConflict(
                "the site already has a reserving, running or paused run",
                str(live["run_id"]) if live else None,
            ) from None

    async def run(
        self, run_id: uuid.UUID, account_id: uuid.UUID | None = None
    ) -> dict[str, Any] | None:
        query = sa.select(runs).where(runs.c.run_id == run_id)
        if account_id is not None:
            query = query.where(runs.c.account_id == account_id)
        return await self._one(query)

    async def runs_for_site(
        self, account_id: uuid.UUID, site_id: uuid.UUID, limit: int, offset: int = 0
    ) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(runs)
            .where(runs.c.account_id == account_id, runs.c.site_id == site_id)
            .order_by(runs.c.created_at.desc(), runs.c.run_id)
            .limit(limit)
            .offset(offset)
        )

    async def live_run(self, site_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(runs).where(runs.c.site_id == site_id, runs.c.status.in_(LIVE))
        )

    async def runs_needing_a_worker(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(runs.c.run_id)
            .where(
                runs.c.status.in_(DRIVEN),
                sa.or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at < now),
            )
            .order_by(runs.c.created_at)
            .limit(limit)
        )
        return list(rows.scalars())

    async def acquire_lease(
        self, run_id: uuid.UUID, owner: str, now: datetime, ttl_s: float
    ) -> int | None:
        """Take over a run nobody holds (or whose holder's lease ran out); the new fencing token
        makes every write of a previous holder fail."""
        got = await self.session.execute(
            sa.update(runs)
            .where(
                runs.c.run_id == run_id,
                runs.c.status.in_(DRIVEN),
                sa.or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at < now),
            )
            .values(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=ttl_s),
                fencing_token=runs.c.fencing_token + 1,
            )
            .returning(runs.c.fencing_token)
        )
        token = got.scalar()
        return int(token) if token is not None else None

    async def renew_lease(self, run_id: uuid.UUID, token: int, now: datetime, ttl_s: float) -> bool:
        renewed = await self.session.execute(
            sa.update(runs)
            .where(
                runs.c.run_id == run_id,
                runs.c.fencing_token == token,
                runs.c.lease_owner.is_not(None),
            )
            .values(lease_expires_at=now + timedelta(seconds=ttl_s))
            .returning(runs.c.run_id)
        )
        return renewed.first() is not None

    async def release_lease(self, run_id: uuid.UUID, token: int) -> None:
        await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.fencing_token == token)
            .values(lease_owner=None, lease_expires_at=None)
        )

    async def guard(
        self, run_id: uuid.UUID, token: int, statuses: tuple[str, ...] = DRIVEN
    ) -> dict[str, Any]:
        """Lock the run for this transaction, refusing a holder whose lease was taken over and a
        writer that expects the run in another state (a late finisher after an end or pause)."""
        row = await self._one(sa.select(runs).where(runs.c.run_id == run_id).with_for_update())
        if row is None or row["fencing_token"] != token:
            raise LeaseLost(f"run {run_id}: lease lost (token {token})")
        if row["status"] not in statuses:
            raise LeaseLost(f"run {run_id} is {row['status']}, not {'/'.join(statuses)}")
        return row

    async def transition(
        self, run_id: uuid.UUID, expected: tuple[str, ...], status: str, **values: Any
    ) -> bool:
        """Compare-and-set: the run changes state only from one of the `expected` states (under
        concurrent changes PostgreSQL re-checks the condition after the row lock)."""
        if not allowed(expected, status):
            raise ValueError(f"no run transition {'|'.join(expected)} -> {status}")
        changed = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status.in_(expected))
            .values(status=status, **values)
            .returning(runs.c.run_id)
        )
        return changed.first() is not None

    async def request(self, run_id: uuid.UUID, expected: tuple[str, ...], what: str) -> bool:
        """Ask the driving worker to pause or cancel between items."""
        changed = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status.in_(expected))
            .values(requested=what)
            .returning(runs.c.run_id)
        )
        return changed.first() is not None

    async def add_charge(self, run_id: uuid.UUID, credits: int) -> None:
        await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id)
            .values(credits_charged=runs.c.credits_charged + credits)
        )

    async def update_run(self, run_id: uuid.UUID, **values: Any) -> None:
        """Fields other than the status (those change by `transition`)."""
        assert "status" not in values, "status changes are compare-and-set: use transition()"
        await self.session.execute(sa.update(runs).where(runs.c.run_id == run_id).values(**values))

    async def save_stage_result(
        self, run_id: uuid.UUID, stage: int, result: dict[str, Any]
    ) -> None:
        statement = insert(stage_results).values(run_id=run_id, stage=stage, result=result)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[stage_results.c.run_id, stage_results.c.stage],
                set_={"result": statement.excluded.result, "updated_at": sa.func.now()},
            )
        )

    async def stage_results(self, run_id: uuid.UUID) -> dict[int, dict[str, Any]]:
        rows = await self.session.execute(
            sa.select(stage_results).where(stage_results.c.run_id == run_id)
        )
        return {r.stage: r.result for r in rows}
