"""The worker role's run driver: admits queued runs fairly (`app/slots.py`), picks up runs nobody
drives (resumed, or a crashed worker's after its lease ran out) and drives up to N at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from automation.adapters.sqlalchemy_run_logs import SqlAlchemyRunLog
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.run_engine import RunEngine
from automation.app.scheduler import start_due_runs
from automation.app.slots import admit, review_queue
from automation.domain.scheduling import Caps
from automation.ports import Clock
from igny8.observability import get_logger
from igny8.periodic import periodic_job
from igny8.runtime import Timer

log = get_logger(__name__)


def run_driver(
    engine: RunEngine,
    unit_of_work: Callable[[], AutomationUnitOfWork],
    concurrency: int,
    tick_s: float,
    caps: Caps | None = None,
    wakeups: asyncio.Event | None = None,
    announce_every: timedelta = timedelta(0),
    give_back: bool = True,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """`concurrency` run slots in this process, filled fairly from the queue every worker shares
    (`app/slots.py`). A slot is refilled as soon as its run ends (not at the next tick); a new or
    resumed run anywhere wakes the loop through `wakeups` (PostgreSQL NOTIFY); `tick_s` is only
    the fallback. Queued runs' places are announced when they change, at most once per
    `announce_every` per run; with `give_back`, accounts over their share are asked to yield
    slots to the waiting ones at the same moments (and at once when woken: a run was queued)."""
    caps = caps or Caps()

    async def run(stop: asyncio.Event) -> None:
        active: dict[uuid.UUID, asyncio.Task[str]] = {}
        leaving: set[asyncio.Task[str]] = set()
        changed = wakeups or asyncio.Event()
        positions_at = 0.0
        queued = True  # until a review finds the queue empty
        woken = False
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            changed.clear()
            for run_id, task in list(active.items()):
                if task.done():
                    del active[run_id]
                    if not task.cancelled() and task.exception() is not None:
                        log.error(
                            "run driver crashed", run_id=str(run_id), error=repr(task.exception())
                        )
            try:
                admitted = await admit(
                    unit_of_work,
                    engine.clock,
                    engine.worker_id,
                    concurrency - len(active),
                    caps,
                    engine.lease_ttl_s,
                    set(active),
                )
            except Exception as exc:  # database hiccup: try again next tick
                log.warning("cannot look for runs", error=repr(exc))
                admitted = []
            for slot in admitted:
                task = asyncio.create_task(
                    engine.drive(slot.run_id, slot.token), name=f"run-{slot.run_id}"
                )
                task.add_done_callback(lambda _: changed.set())  # refill the slot at once
                unwinding = active.get(slot.run_id)
                if unwinding is not None and not unwinding.done():
                    # it gave its slot back and was admitted again here before its last drive
                    # returned: still awaited at the end, no longer counted as a slot
                    leaving.add(unwinding)
                    unwinding.add_done_callback(leaving.discard)
                active[slot.run_id] = task
            since = loop.time() - positions_at
            if (
                admitted
                or (woken and since >= WOKEN_REVIEW_GAP_S)
                or (queued and since >= POSITIONS_EVERY_S)
                or since >= QUIET_REVIEW_EVERY_S
            ):
                positions_at, woken = loop.time(), False
                try:
                    _, waiting = await review_queue(
                        unit_of_work, caps, engine.clock, announce_every, give_back
                    )
                    queued = waiting > 0
                except Exception as exc:
                    log.warning("cannot update queue positions", error=repr(exc))
            wait_s = tick_s
            if woken:  # a wake inside the gap: review once the gap has passed
                gap_left = WOKEN_REVIEW_GAP_S - (loop.time() - positions_at)
                wait_s = min(tick_s, max(gap_left, 0.0) + 0.001)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, changed), wait_s)
            woken = woken or changed.is_set()  # kept until a review has run
        tasks = [*active.values(), *leaving]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return run


POSITIONS_EVERY_S = 1.0
"""How often queued runs' places are recomputed and announced while runs wait (also after each
admission and whenever the loop is woken: a run queued, resumed or ended)."""
WOKEN_REVIEW_GAP_S = 0.2
"""A burst of NOTIFYs (forty runs started at once) reviews the queue at most five times a second."""
QUIET_REVIEW_EVERY_S = 10.0
"""With the queue found empty, a run queued anywhere wakes the loop (NOTIFY); this look is only
the fallback for a NOTIFY missed while the LISTEN connection was down."""


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def scheduler(
    engine: AsyncEngine,
    unit_of_work: Callable[[], AutomationUnitOfWork],
    clock: Clock,
    tick_s: float,
) -> Timer:
    """Starts due runs; one replica at a time (`igny8.periodic`, an advisory lock keyed by the
    job's name)."""

    async def tick() -> None:
        started = await start_due_runs(unit_of_work, clock)
        if started:
            log.info("scheduler pass", outcomes=started)

    return periodic_job("automation.scheduler", tick_s, tick, lock_engine=engine)


def flushing(timer: Timer, run_log: SqlAlchemyRunLog) -> Timer:
    """`timer`, then the run log's queue stored: lines written while it stopped are not lost."""

    async def run(stop: asyncio.Event) -> None:
        try:
            await timer(stop)
        finally:
            await run_log.flush()

    return run


def run_log_pruner(
    engine: AsyncEngine, run_log: SqlAlchemyRunLog, clock: Clock, retention_days: int
) -> Timer:
    """Deletes run log lines past their retention, hourly, on one replica."""

    async def tick() -> None:
        deleted = await run_log.prune(clock.now(), timedelta(days=retention_days))
        if deleted:
            log.info("run log pruned", lines=deleted)

    return periodic_job("automation.run_log_pruner", 3600.0, tick, lock_engine=engine)
