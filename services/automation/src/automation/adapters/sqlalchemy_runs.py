"""Runs and their leases (fencing tokens), compare-and-set status changes and stage results."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any, Unpack

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import (
    run_items,
    runs,
    stage_results,
)
from automation.domain.errors import RunConflict
from automation.domain.runs import (
    DRIVEN,
    LIVE,
    ItemStatus,
    LeaseLost,
    Run,
    RunChanges,
    RunRequest,
    RunStatus,
    StageResult,
    allowed,
)


def run_of(row: Any) -> Run:
    """A `runs` row as the domain's Run."""
    m = row._mapping
    return Run(
        run_id=m["run_id"],
        account_id=m["account_id"],
        site_id=m["site_id"],
        status=RunStatus(m["status"]),
        stages=tuple(m["stages"]),
        config=m["config"],
        fencing_token=int(m["fencing_token"]),
        requested=RunRequest(m["requested"]) if m["requested"] else None,
        pause_reason=m["pause_reason"],
        error=m["error"],
        lease_owner=m["lease_owner"],
        lease_expires_at=m["lease_expires_at"],
        credits_charged=int(m["credits_charged"]),
        rejection=m["rejection"],
        target=m["target"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        ending=RunStatus(m["ending"]) if m["ending"] else None,
        end_reason=m["end_reason"],
        queue_position=m["queue_position"],
    )


_PEEK = sa.select(
    runs,
    sa.exists()
    .where(
        run_items.c.run_id == runs.c.run_id,
        run_items.c.item_key == sa.bindparam("key"),
        run_items.c.status == ItemStatus.DONE,
    )
    .label("item_done"),
).where(runs.c.run_id == sa.bindparam("run"))
"""An item's look before its AI call, built once: the run and whether the item is done."""
_GUARD = sa.select(runs).where(runs.c.run_id == sa.bindparam("run"))
_GUARD_LOCKED = _GUARD.with_for_update()
_ADD_CHARGE = (
    sa.update(runs)
    .where(runs.c.run_id == sa.bindparam("run"))
    .values(credits_charged=runs.c.credits_charged + sa.bindparam("credits", type_=sa.BigInteger))
)
"""Built once: each item's commit runs them (a statement built per call costs CPU)."""


class SqlAlchemyRunRepository(SessionRepository):
    async def create_run(self, run: Run) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    sa.insert(runs).values(
                        run_id=run.run_id,
                        account_id=run.account_id,
                        site_id=run.site_id,
                        status=run.status,
                        stages=list(run.stages),
                        config=dict(run.config),
                        target=dict(run.target) if run.target is not None else None,
                    )
                )
        except IntegrityError:
            live = await self.live_run(run.site_id)
            raise RunConflict(
                "the site already has a reserving, running or paused run",
                str(live.run_id) if live else None,
            ) from None

    async def _run(self, query: Any) -> Run | None:
        row = (await self.session.execute(query)).first()
        return run_of(row) if row is not None else None

    async def run(self, run_id: uuid.UUID, account_id: uuid.UUID | None = None) -> Run | None:
        query = sa.select(runs).where(runs.c.run_id == run_id)
        if account_id is not None:
            query = query.where(runs.c.account_id == account_id)
        return await self._run(query)

    async def runs_for_site(
        self, account_id: uuid.UUID, site_id: uuid.UUID, limit: int, offset: int = 0
    ) -> list[Run]:
        rows = await self.session.execute(
            sa.select(runs)
            .where(runs.c.account_id == account_id, runs.c.site_id == site_id)
            .order_by(runs.c.created_at.desc(), runs.c.run_id)
            .limit(limit)
            .offset(offset)
        )
        return [run_of(r) for r in rows]

    async def live_run(self, site_id: uuid.UUID) -> Run | None:
        return await self._run(
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
        self,
        run_id: uuid.UUID,
        token: int,
        statuses: tuple[RunStatus, ...] = DRIVEN,
        *,
        lock: bool = True,
    ) -> Run:
        """Lock the run for this transaction, refusing a holder whose lease was taken over and a
        writer that expects the run in another state (a late finisher after an end or pause)."""
        query = _GUARD_LOCKED if lock else _GUARD
        row = (await self.session.execute(query, {"run": run_id})).first()
        run = run_of(row) if row is not None else None
        if run is None or run.fencing_token != token:
            raise LeaseLost(f"run {run_id}: lease lost (token {token})")
        if run.status not in statuses:
            raise LeaseLost(f"run {run_id} is {run.status}, not {'/'.join(statuses)}")
        return run

    async def peek(self, run_id: uuid.UUID, token: int, item_key: str) -> tuple[Run, bool]:
        row = (await self.session.execute(_PEEK, {"run": run_id, "key": item_key})).first()
        run = run_of(row) if row is not None else None
        if row is None or run is None or run.fencing_token != token:
            raise LeaseLost(f"run {run_id}: lease lost (token {token})")
        if run.status not in DRIVEN:
            raise LeaseLost(f"run {run_id} is {run.status}, not {'/'.join(DRIVEN)}")
        return run, bool(row.item_done)

    async def transition(
        self,
        run_id: uuid.UUID,
        expected: tuple[RunStatus, ...],
        status: RunStatus,
        **values: Unpack[RunChanges],
    ) -> bool:
        """Compare-and-set: the run changes state only from one of the `expected` states (under
        concurrent changes PostgreSQL re-checks the condition after the row lock)."""
        if not allowed(expected, status):
            raise ValueError(f"no run transition {'|'.join(expected)} -> {status}")
        changed = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status.in_(expected))
            .values(status=status, **_columns(values))
            .returning(runs.c.run_id)
        )
        return changed.first() is not None

    async def request(
        self, run_id: uuid.UUID, expected: tuple[RunStatus, ...], what: RunRequest
    ) -> bool:
        """Ask the driving worker to pause or cancel between items."""
        changed = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status.in_(expected))
            .values(requested=what)
            .returning(runs.c.run_id)
        )
        return changed.first() is not None

    async def add_charge(self, run_id: uuid.UUID, credits: int) -> None:
        await self.session.execute(_ADD_CHARGE, {"run": run_id, "credits": credits})

    async def update_run(self, run_id: uuid.UUID, **values: Unpack[RunChanges]) -> None:
        """Fields other than the status (those change by `transition`)."""
        await self.session.execute(
            sa.update(runs).where(runs.c.run_id == run_id).values(**_columns(values))
        )

    async def save_stage_result(self, run_id: uuid.UUID, stage: int, result: StageResult) -> None:
        statement = insert(stage_results).values(
            run_id=run_id, stage=stage, result=dataclasses.asdict(result)
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[stage_results.c.run_id, stage_results.c.stage],
                set_={"result": statement.excluded.result, "updated_at": sa.func.now()},
            )
        )

    async def stage_results(self, run_id: uuid.UUID) -> dict[int, StageResult]:
        rows = await self.session.execute(
            sa.select(stage_results).where(stage_results.c.run_id == run_id)
        )
        return {r.stage: _stage_result(r.result) for r in rows}


def _columns(values: RunChanges) -> dict[str, object]:
    """Column values: the JSON columns take plain dicts."""
    out: dict[str, object] = dict(values)
    if (rejection := values.get("rejection")) is not None:
        out["rejection"] = dict(rejection)
    if (target := values.get("target")) is not None:
        out["target"] = dict(target)
    return out


def _stage_result(stored: dict[str, Any]) -> StageResult:
    """A stored stage result (JSON); fields a row written before one existed take defaults."""
    return StageResult(
        done=int(stored.get("done", 0)),
        failed=int(stored.get("failed", 0)),
        skipped=int(stored.get("skipped", 0)),
        total=int(stored.get("total", 0)),
        credits=int(stored.get("credits", 0)),
        status=str(stored.get("status", "completed")),
        partial=bool(stored.get("partial", False)),
        skip_reasons=tuple(stored.get("skip_reasons", ())),
    )
