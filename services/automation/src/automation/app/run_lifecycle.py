"""The run's state changes while a worker drives it: pause and cancel between items, pausing
itself, and ending — through `finishing`, where the run waits (live) until billing has answered
every capture, and only then releases its holds (DESIGN §4; the state machine is
`domain.runs.TRANSITIONS`). Every change is a compare-and-set on the expected state."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from typing import TYPE_CHECKING

from pydantic import BaseModel

from automation.app.content_edits import content_ready
from automation.app.run_context import RunContext, Stop
from automation.app.run_events import run_event
from automation.app.slots import yield_still_due
from automation.app.waits import waiter
from automation.domain.runs import Run, RunRequest, RunStatus
from igny8.credit_saga import Emit, release_confirmed

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine
    from automation.ports import UnitOfWork

R = RunStatus

driving: ContextVar[uuid.UUID | None] = ContextVar("driving", default=None)
"""The run this task drives (set by `RunEngine.drive`): only the driver gives a run's slot back —
an image worker handling one of its images (`run_item` there too) leaves the request to it."""


async def between_items(
    eng: RunEngine,
    ctx: RunContext,
    key: str | None = None,
    expect: tuple[RunStatus, ...] = (R.RUNNING,),
    may_yield: bool = False,
) -> bool:
    """Pause and cancel take effect here (and a yield, where the caller says it is safe). True
    when the item `key` is already done."""
    async with eng.unit_of_work() as uow:
        current = await uow.runs.guard(ctx.run_id, ctx.token, lock=False)  # writes nothing
        done = key is not None and await uow.items.item_done(ctx.run_id, key)
    await take_requests(eng, ctx, current, expect, may_yield)
    return done


async def take_requests(
    eng: RunEngine,
    ctx: RunContext,
    current: Run,
    expect: tuple[RunStatus, ...],
    may_yield: bool = False,
) -> None:
    """Act on a pause, cancel or yield asked for, or stop when the run left the expected states.
    A yield is taken only by the run's driver, and only where the caller says so (`may_yield`):
    before an item or at a stage boundary, nothing of the run in flight (no AI call, no
    reservation, no images with the consumers). The default is the safe one: a new caller that
    forgets the argument keeps the slot rather than leaving work in flight."""
    if current.requested is RunRequest.CANCEL:
        await finish(eng, ctx, R.CANCELLED, "cancelled on request")
        raise Stop(R.CANCELLED)
    if current.requested is RunRequest.PAUSE:
        await pause(eng, ctx, "requested")
    if (
        current.requested is RunRequest.YIELD
        and may_yield
        and current.status is R.RUNNING
        and driving.get() == ctx.run_id
    ):
        await give_back(eng, ctx)
    if current.status not in expect:
        raise Stop(current.status)  # paused or ending elsewhere (e.g. by an image worker)


async def give_back(eng: RunEngine, ctx: RunContext) -> None:
    """running → queued: the slot goes to a waiting account (`domain.scheduling.yields`). The
    run keeps its checkpoints and holds; admitted again it goes on as `running` where it
    stopped — the new lease's token fences anything of this drive still on its way.

    The request was decided from counts that may be gone by now (another worker admitted the
    newcomer, or it was cancelled): decided again here, under the admission lock, and withdrawn
    when no run of a less-loaded account still waits — the run then carries on."""
    async with eng.unit_of_work() as uow:
        # the admission lock before the run's row, in the order admissions take them
        await uow.run_queue.lock_admission()
        current = await uow.runs.guard(ctx.run_id, ctx.token, (R.RUNNING,))
        if current.requested is not RunRequest.YIELD:  # a pause or cancel replaced it
            return
        if not await yield_still_due(uow, current.account_id, eng.run_caps):
            await uow.runs.update_run(ctx.run_id, requested=None)
            await uow.commit()
            eng.log.write(ctx.run_id, None, "run.yield_withdrawn", "no account waits for it")
            return
        await uow.runs.transition(
            ctx.run_id,
            (R.RUNNING,),
            R.QUEUED,
            requested=None,
            queue_position=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        await uow.run_queue.notify()
        await run_event(eng, uow, current, "yielded", "gave its slot to a waiting account")
        await uow.commit()
    raise Stop(R.QUEUED)


async def pause(eng: RunEngine, ctx: RunContext, reason: str) -> None:
    async with eng.unit_of_work() as uow:
        await uow.runs.guard(ctx.run_id, ctx.token)
        if await uow.runs.transition(
            ctx.run_id,
            (R.RUNNING, R.RESERVING),
            R.PAUSED,
            requested=None,
            pause_reason=reason,
            lease_owner=None,
            lease_expires_at=None,
        ):
            await run_event(eng, uow, await _run(uow, ctx), R.PAUSED, reason)
        await uow.commit()
    raise Stop(R.PAUSED)


async def finish(
    eng: RunEngine, ctx: RunContext, status: RunStatus, reason: str | None = None
) -> None:
    """completed | cancelled | failed | rejected: into `finishing`, then settle and end."""
    async with eng.unit_of_work() as uow:
        await uow.runs.guard(ctx.run_id, ctx.token)
        await uow.runs.transition(
            ctx.run_id,
            (R.RESERVING, R.RUNNING),
            R.FINISHING,
            ending=status,
            end_reason=reason,
            requested=None,
        )
        await uow.commit()
    await settle_and_end(eng, ctx)


async def settle_and_end(eng: RunEngine, ctx: RunContext) -> str:
    """Wait (holding the lease) until billing answered every capture, then release the holds
    billing confirmed, announce the end and free the site. Captures and releases travel on
    different topics: a release overtaking a capture would leave finished work unbilled."""
    waits = waiter(eng.poll_s, ctx.run_id, eng.signals)
    while True:
        waits.arm()
        async with eng.unit_of_work() as uow:
            await uow.runs.guard(ctx.run_id, ctx.token, (R.FINISHING,))
            if await uow.items.unsettled_captures(ctx.run_id) == 0:
                break
        await waits.wait()
    async with eng.unit_of_work() as uow:
        run = await uow.runs.guard(ctx.run_id, ctx.token, (R.FINISHING,))
        status, reason = run.ending or R.COMPLETED, run.end_reason
        await release_confirmed(uow.holds, emitter(uow, ctx), ctx.run_id)
        await uow.runs.transition(
            ctx.run_id,
            (R.FINISHING,),
            status,
            requested=None,
            error=reason if status == R.FAILED else None,
            ended_at=eng.clock.now(),
            lease_owner=None,
            lease_expires_at=None,
        )
        if status == R.COMPLETED:
            await _content_ready(eng, uow, ctx)
        await run_event(eng, uow, await _run(uow, ctx), status, reason)
        await uow.commit()
    return str(status)


async def _content_ready(eng: RunEngine, uow: UnitOfWork, ctx: RunContext) -> None:
    for content in await uow.planner.contents_of_run(ctx.run_id):
        await uow.emit(
            "content.ready",
            content_ready(
                content, content.images, eng.image_url, ctx.config.auto_publish, ctx.run_id
            ),
            ctx.account_id,
            ctx.site_id,
        )


async def _run(uow: UnitOfWork, ctx: RunContext) -> Run:
    found = await uow.runs.run(ctx.run_id)
    assert found is not None
    return found


def emitter(uow: UnitOfWork, ctx: RunContext) -> Emit:
    """The credit saga's `emit`: through this unit's outbox, under the run's account and site."""

    async def emit(topic: str, payload: BaseModel) -> None:
        await uow.emit(topic, payload, ctx.account_id, ctx.site_id)

    return emit
