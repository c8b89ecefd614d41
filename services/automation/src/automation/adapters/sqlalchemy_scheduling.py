"""The fair run queue in PostgreSQL: runs in progress per account, the queued runs, admission
(queued → reserving with the admitting worker's lease) and the queue positions shown to users.

Admission is serialized across every worker process by a transaction-level advisory lock, so two
workers never hand out the same slot twice or both give an account its last capped slot."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import runs, stage_results
from automation.domain.runs import DRIVEN, RunRequest, RunStatus
from automation.domain.scheduling import Admission, QueuedRun, Waiting

ADMISSION_LOCK = 0x6967_6E79_3866_6169  # "ign8fai": one admission at a time, every worker
IN_PROGRESS = DRIVEN
"""Runs that hold a slot: reserving, running, finishing (paused runs hold none)."""


WAKE_CHANNEL = "automation_runs"
"""NOTIFY channel: a run was queued or resumed (sent at commit; workers LISTEN)."""


RUN_CHANNEL = "automation_run"
"""NOTIFY channel with a run id: something its driver waits for happened."""


class SqlAlchemyRunQueue(SessionRepository):
    async def notify(self) -> None:
        await self.session.execute(sa.select(sa.func.pg_notify(WAKE_CHANNEL, "")))

    async def signal_run(self, run_id: uuid.UUID) -> None:
        await self.session.execute(sa.select(sa.func.pg_notify(RUN_CHANNEL, str(run_id))))

    async def lock_admission(self) -> None:
        await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(ADMISSION_LOCK)))

    async def in_progress(self) -> dict[uuid.UUID, int]:
        rows = await self.session.execute(
            sa.select(runs.c.account_id, sa.func.count())
            .where(runs.c.status.in_(IN_PROGRESS))
            .group_by(runs.c.account_id)
        )
        return {account: int(n) for account, n in rows}

    async def queued(self, per_account: int) -> list[Waiting]:
        """The oldest `per_account` queued runs of every account: enough to fill that many slots
        whatever the fair order is, and bounded however long the queue is."""
        ranked = (
            sa.select(
                runs.c.run_id,
                runs.c.account_id,
                runs.c.created_at,
                sa.func.row_number()
                .over(partition_by=runs.c.account_id, order_by=(runs.c.created_at, runs.c.run_id))
                .label("n"),
            )
            .where(runs.c.status == RunStatus.QUEUED)
            .subquery()
        )
        rows = await self.session.execute(
            sa.select(ranked.c.run_id, ranked.c.account_id, ranked.c.created_at).where(
                ranked.c.n <= per_account
            )
        )
        return [Waiting(r.run_id, r.account_id, r.created_at) for r in rows]

    async def queue_positions(self) -> dict[uuid.UUID, int | None]:
        rows = await self.session.execute(
            sa.select(runs.c.run_id, runs.c.queue_position).where(runs.c.status == RunStatus.QUEUED)
        )
        return {r.run_id: r.queue_position for r in rows}

    async def announced_at(self) -> dict[uuid.UUID, datetime | None]:
        rows = await self.session.execute(
            sa.select(runs.c.run_id, runs.c.queue_announced_at).where(
                runs.c.status == RunStatus.QUEUED
            )
        )
        return {r.run_id: r.queue_announced_at for r in rows}

    async def admit(
        self, run_id: uuid.UUID, owner: str, now: datetime, ttl_s: float
    ) -> Admission | None:
        """queued → reserving, leased to the admitting worker (the new fencing token); a run
        that started before and yielded its slot goes straight back to running (it holds its
        credits already) — `readmitted`, with what its `run.readmitted` event needs."""
        got = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status == RunStatus.QUEUED)
            .values(
                status=sa.case(
                    (runs.c.started_at.is_(None), str(RunStatus.RESERVING)),
                    else_=str(RunStatus.RUNNING),
                ),
                queue_position=None,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=ttl_s),
                fencing_token=runs.c.fencing_token + 1,
            )
            .returning(
                runs.c.fencing_token,
                runs.c.status,
                runs.c.account_id,
                runs.c.site_id,
                runs.c.stages,
                runs.c.credits_charged,
            )
        )
        row = got.one_or_none()
        if row is None:
            return None
        return Admission(
            token=int(row.fencing_token),
            readmitted=row.status == RunStatus.RUNNING,
            account_id=row.account_id,
            site_id=row.site_id,
            stages=tuple(row.stages),
            credits_charged=int(row.credits_charged),
        )

    async def yielding(self) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
        asked = runs.c.requested == RunRequest.YIELD
        rows = await self.session.execute(
            sa.select(
                runs.c.account_id,
                sa.func.count().filter(
                    runs.c.status == RunStatus.RUNNING,
                    runs.c.requested.is_(None),
                    runs.c.lease_owner.is_not(None),
                ),
                sa.func.count().filter(asked),
            )
            .where(runs.c.status.in_(IN_PROGRESS))
            .group_by(runs.c.account_id)
        )
        spare, pending = {}, {}
        for account, can, asked_n in rows:
            spare[account], pending[account] = int(can), int(asked_n)
        return spare, pending

    async def request_yields(self, account_id: uuid.UUID, n: int) -> int:
        # SKIP LOCKED: a run whose driver is writing an item now is passed over, not waited for
        can = (
            runs.c.account_id == account_id,
            runs.c.status == RunStatus.RUNNING,
            runs.c.requested.is_(None),
            runs.c.lease_owner.is_not(None),
        )
        chosen = (
            sa.select(runs.c.run_id)
            .where(*can)
            .order_by(runs.c.started_at.desc().nulls_last(), runs.c.run_id)
            .limit(n)
            .with_for_update(skip_locked=True)
        )
        # Chosen (and locked) first, then updated by id: inside an UPDATE's IN, PostgreSQL may
        # run a LIMIT ... SKIP LOCKED subquery more than once and so mark more than `n` runs.
        ids = list((await self.session.execute(chosen)).scalars())
        if not ids:
            return 0
        asked = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id.in_(ids), *can)
            .values(requested=RunRequest.YIELD)
            .returning(runs.c.run_id)
        )
        return len(asked.all())

    async def set_positions(
        self, places: dict[uuid.UUID, int], announced_at: datetime | None = None
    ) -> None:
        """One statement for every changed place (not a round trip per run)."""
        if not places:
            return
        values = sa.values(
            sa.column("run_id", sa.Uuid), sa.column("place", sa.Integer), name="places"
        ).data(list(places.items()))
        await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == values.c.run_id, runs.c.status == RunStatus.QUEUED)
            .values(queue_position=values.c.place, queue_announced_at=announced_at)
        )

    async def queued_runs(self, run_ids: list[uuid.UUID]) -> list[QueuedRun]:
        rows = await self.session.execute(
            sa.select(runs.c.run_id, runs.c.account_id, runs.c.site_id, runs.c.stages).where(
                runs.c.run_id.in_(run_ids)
            )
        )
        # a run that gave its slot back resumes after the stages it completed (stage results
        # are written only when a stage ends; a result without a status is a completed one)
        done = await self.session.execute(
            sa.select(stage_results.c.run_id, stage_results.c.stage).where(
                stage_results.c.run_id.in_(run_ids),
                sa.func.coalesce(stage_results.c.result["status"].astext, "completed")
                == "completed",
            )
        )
        completed: dict[uuid.UUID, set[int]] = {}
        for run_id, stage in done:
            completed.setdefault(run_id, set()).add(int(stage))
        return [
            QueuedRun(
                r.run_id,
                r.account_id,
                r.site_id,
                tuple(r.stages),
                frozenset(completed.get(r.run_id, ())),
            )
            for r in rows
        ]
