"""Fair run slots (issue 17): a worker with free slots admits queued runs in the fair order of
`domain.scheduling` (fewest runs in progress per account, then oldest waiting, within the
account's cap), and the queue's positions are kept visible (`runs.queue_position`, and
`stage.progress` with reason `queued` for every run whose place changed). When the slots are all
taken and an account holds more than its share, its runs are asked to give theirs back
(`domain.scheduling.yields`; the run does at its next safe point, `run_lifecycle.give_back`).

Every worker process admits from the same queue in PostgreSQL under one advisory lock, so the
fair order and the caps hold across the fleet; runs already admitted that nobody drives (resumed,
or a crashed worker's) come first — they were given their slot before."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from automation.domain.runs import STAGES, RunStatus
from automation.domain.scheduling import (
    Admission,
    Caps,
    Waiting,
    announcements,
    choose,
    positions,
    still_yields,
    yields,
)
from automation.ports import Clock, UnitOfWork
from igny8.contracts.runs import RunChanged, StageChanged

QUEUE_SCAN_LIMIT = 10_000
"""Queued runs per account read when the positions are recomputed (a bound, not a rule)."""


@dataclass(frozen=True)
class Admitted:
    run_id: uuid.UUID
    token: int | None
    """The lease's fencing token when admitted from the queue; None for a run to take over."""


async def admit(
    unit_of_work: Callable[[], UnitOfWork],
    clock: Clock,
    worker_id: str,
    free: int,
    caps: Caps,
    lease_ttl_s: float,
    busy: set[uuid.UUID] | frozenset[uuid.UUID] = frozenset(),
) -> list[Admitted]:
    """Fill up to `free` slots of this worker: runs to take over first, then queued runs in the
    fair order. `busy` are the runs this worker drives already."""
    if free <= 0:
        return []
    async with unit_of_work() as uow:
        await uow.run_queue.lock_admission()
        now = clock.now()
        orphans = [
            r for r in await uow.runs.runs_needing_a_worker(now, free + len(busy)) if r not in busy
        ][:free]
        admitted = [Admitted(r, None) for r in orphans]
        left = free - len(orphans)
        if left > 0:
            waiting = await uow.run_queue.queued(left)
            if waiting:
                in_progress = await uow.run_queue.in_progress()
                for run in choose(waiting, in_progress, left, caps):
                    got = await uow.run_queue.admit(run.run_id, worker_id, now, lease_ttl_s)
                    if got is not None:
                        admitted.append(Admitted(run.run_id, got.token))
                        if got.readmitted:
                            await _readmitted(uow, run.run_id, got)
        await uow.commit()
    return admitted


async def _readmitted(uow: UnitOfWork, run_id: uuid.UUID, got: Admission) -> None:
    """`run.readmitted`: a run that gave its slot back runs again (in the admission's
    transaction, so the event and the state change commit together)."""
    await uow.emit(
        "run.readmitted",
        RunChanged(
            run_id=run_id,
            site_id=got.site_id,
            status=RunStatus.RUNNING,
            stages=list(got.stages),
            reason="readmitted",
            credits_charged=got.credits_charged,
        ),
        got.account_id,
        got.site_id,
    )


async def yield_still_due(uow: UnitOfWork, account_id: uuid.UUID, caps: Caps) -> bool:
    """At a run's safe point, in the transaction that would give its slot back: whether one of
    `account_id`'s runs asked to yield still should (`domain.scheduling.still_yields`). Under the
    admission lock (taken here too; it stacks within a transaction), so no worker admits
    meanwhile: the answer holds until the commit."""
    await uow.run_queue.lock_admission()
    spare, asked = await uow.run_queue.yielding()
    in_progress = await uow.run_queue.in_progress()
    # enough queued runs per account for every place `yields` can look at
    per_account = sum(asked.values()) + sum(spare.values()) + 1
    waiting = await uow.run_queue.queued(per_account)
    return still_yields(account_id, waiting, in_progress, spare, asked, caps)


async def publish_positions(
    unit_of_work: Callable[[], UnitOfWork],
    caps: Caps,
    clock: Clock,
    every: timedelta = timedelta(0),
    give_back: bool = True,
) -> int:
    """`review_queue`; the number of places announced."""
    return (await review_queue(unit_of_work, caps, clock, every, give_back))[0]


async def review_queue(
    unit_of_work: Callable[[], UnitOfWork],
    caps: Caps,
    clock: Clock,
    every: timedelta = timedelta(0),
    give_back: bool = True,
) -> tuple[int, int]:
    """Recompute every queued run's place; store and announce (stage.progress, reason `queued`)
    the places that changed, each run's at most once per `every` (the others wait for a later
    recomputation, so the latest place is always announced in the end) — one statement for the
    stores. With `give_back`, ask runs of accounts over their share to yield their slots to the
    waiting ones. The number announced, and the number of runs queued."""
    async with unit_of_work() as uow:
        await uow.run_queue.lock_admission()  # one recomputation at a time across workers
        stored = await uow.run_queue.queue_positions()
        if not stored:
            await uow.commit()
            return 0, 0
        waiting = await uow.run_queue.queued(QUEUE_SCAN_LIMIT)
        in_progress = await uow.run_queue.in_progress()
        places = positions(waiting, in_progress, caps)
        if give_back:
            await _ask_to_yield(uow, waiting, in_progress, caps)
        changed = {r: p for r, p in places.items() if stored.get(r) != p}
        now = clock.now()
        if changed and every > timedelta(0):
            changed = announcements(changed, await uow.run_queue.announced_at(), now, every)
        if changed:
            await uow.run_queue.set_positions(changed, now)
            for run in await uow.run_queue.queued_runs(list(changed)):
                stage = run.next_stage  # a run that gave its slot back resumes past stage 1
                await uow.emit(
                    "stage.progress",
                    StageChanged(
                        run_id=run.run_id,
                        site_id=run.site_id,
                        stage=stage,
                        name=STAGES[stage],
                        reason="queued",
                        queue_position=changed[run.run_id],
                    ),
                    run.account_id,
                    run.site_id,
                )
        await uow.commit()
    return len(changed), len(stored)


async def _ask_to_yield(
    uow: UnitOfWork, waiting: list[Waiting], in_progress: dict[uuid.UUID, int], caps: Caps
) -> None:
    """Runs already asked to yield are leaving: their slots count for the waiting runs."""
    spare, pending = await uow.run_queue.yielding()
    staying = {a: n - pending.get(a, 0) for a, n in in_progress.items()}
    leaving = sum(pending.values())
    for account, n in yields(waiting, staying, spare, leaving, caps).items():
        await uow.run_queue.request_yields(account, n)
