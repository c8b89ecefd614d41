"""The worker role's run driver: picks up runs nobody drives (new, resumed, or a crashed worker's
after its lease ran out) and drives up to N at once."""

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
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    async def run(stop: asyncio.Event) -> None:
        active: dict[uuid.UUID, asyncio.Task[str]] = {}
        while not stop.is_set():
            for run_id, task in list(active.items()):
                if task.done():
                    del active[run_id]
                    if not task.cancelled() and task.exception() is not None:
                        log.error(
                            "run driver crashed", run_id=str(run_id), error=repr(task.exception())
                        )
            free = concurrency - len(active)
            if free > 0:
                try:
                    async with unit_of_work() as uow:
                        waiting = await uow.runs.runs_needing_a_worker(
                            engine.clock.now(), free + len(active)
                        )
                except Exception as exc:  # database hiccup: try again next tick
                    log.warning("cannot look for runs", error=repr(exc))
                    waiting = []
                for run_id in waiting:
                    if run_id not in active and len(active) < concurrency:
                        active[run_id] = asyncio.create_task(
                            engine.drive(run_id), name=f"run-{run_id}"
                        )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)
        for task in active.values():
            task.cancel()
        await asyncio.gather(*active.values(), return_exceptions=True)

    return run


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
