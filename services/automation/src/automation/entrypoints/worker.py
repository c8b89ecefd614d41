"""The worker role's run driver: picks up runs nobody drives (new, resumed, or a crashed worker's
after its lease ran out) and drives up to N at once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.run_engine import RunEngine
from igny8.observability import get_logger

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


SCHEDULER_LOCK = 0x1687_5C4E_A070


def scheduler(
    engine: Any, unit_of_work: Callable[[], AutomationUnitOfWork], clock: Any, tick_s: float
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """Starts due runs; one replica at a time (PostgreSQL advisory lock)."""
    import sqlalchemy as sa

    from automation.app.scheduler import start_due_runs

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with engine.connect() as conn:
                    if (
                        await conn.execute(
                            sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": SCHEDULER_LOCK}
                        )
                    ).scalar():
                        try:
                            started = await start_due_runs(unit_of_work, clock)
                            if started:
                                log.info("scheduler pass", outcomes=started)
                        finally:
                            await conn.execute(
                                sa.text("SELECT pg_advisory_unlock(:k)"), {"k": SCHEDULER_LOCK}
                            )
            except Exception as exc:  # a failing pass must not stop the scheduler
                log.warning("scheduler pass failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick_s)

    return run
