"""run.* and stage.* events (through the outbox, in the caller's transaction) and the run log."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automation.app.run_context import RunContext
from automation.domain.runs import STAGES, Run
from automation.ports import UnitOfWork
from igny8.contracts.runs import RunChanged, StageChanged

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


RunEventDetail = Mapping[str, str | int | bool | None]
"""Extra facts of a run event (the wire's `RunChanged.detail` and the run log line's fields)."""


WIRE_STATUS = {"resumed": "running", "yielded": "queued"}
"""The run's status an event of these names carries (`run.yielded`: it waits `queued` again)."""


async def run_event(
    eng: RunEngine,
    uow: UnitOfWork,
    run: Run,
    status: str,
    reason: str | None = None,
    detail: RunEventDetail | None = None,
) -> None:
    detail = detail or {}
    topic = {"running": "run.started"}.get(status, f"run.{status}")
    await uow.emit(
        topic,
        RunChanged(
            run_id=run.run_id,
            site_id=run.site_id,
            status=WIRE_STATUS.get(status, status),
            stages=list(run.stages),
            reason=reason,
            credits_charged=run.credits_charged,
            detail=dict(detail),
        ),
        run.account_id,
        run.site_id,
    )
    eng.log.write(run.run_id, None, f"run.{status}", reason or status, **detail)


async def stage_event(
    uow: UnitOfWork, ctx: RunContext, verb: str, stage: int, tally: Mapping[str, Any]
) -> None:
    await uow.emit(
        f"stage.{verb}",
        StageChanged(
            run_id=ctx.run_id,
            site_id=ctx.site_id,
            stage=stage,
            name=STAGES[stage],
            done=tally.get("done", 0),
            total=tally.get("total", 0),
            failed=tally.get("failed", 0),
            skipped=tally.get("skipped", 0),
            credits=tally.get("credits", 0),
            partial=tally.get("partial", False),
            reason=tally.get("reason"),
        ),
        ctx.account_id,
        ctx.site_id,
    )


async def progress(eng: RunEngine, ctx: RunContext, stage: int, done: int, total: int) -> None:
    """stage.progress, at most about once a second per stage (and always at the end)."""
    now = asyncio.get_running_loop().time()
    mark = (ctx.run_id, stage)
    if done < total and now - eng.last_progress.get(mark, 0.0) < 1.0:
        return
    eng.last_progress[mark] = now
    async with eng.unit_of_work() as uow:
        await stage_event(uow, ctx, "progress", stage, {"done": done, "total": total})
        await uow.commit()
