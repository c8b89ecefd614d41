"""A run's credits (the client side of the saga lives in `igny8.credit_saga`): hold credits for
the work in sight — re-sending an unanswered reserve and giving up at the deadline, while pause
and cancel still take effect — and make sure a live hold covers an item before it starts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from automation.app.run_context import RunContext, Stop
from automation.app.run_events import run_event
from automation.app.run_lifecycle import between_items, emitter, finish, pause
from automation.app.waits import waiter
from automation.domain.runs import RunStatus, estimate
from igny8.credit_saga import HoldStatus, covering_hold, only_expired, request_hold, resend_reserve

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine

R = RunStatus


async def reserve(
    eng: RunEngine,
    ctx: RunContext,
    initial: bool,
    at_least: tuple[str, int] | None = None,
) -> bool:
    """Hold credits for the work in sight (plus the buffer). True once billing confirmed; False
    when a first reservation was refused (the run ended `rejected`). Raises Stop when the run
    was paused, cancelled or failed meanwhile."""
    async with eng.unit_of_work() as uow:
        await uow.runs.guard(ctx.run_id, ctx.token)
        pending = [h for h in await uow.holds.holds(ctx.run_id) if h.status is HoldStatus.REQUESTED]
        if pending:  # asked before (by us or a worker we took over from): ask again
            reservation_id = pending[-1].reservation_id
            await resend_reserve(emitter(uow, ctx), pending[-1], eng.hold_ttl_s, ctx.run_id)
        else:
            quantities = estimate(
                await uow.queues.work_counts(ctx.site_id),
                ctx.config,
                list(ctx.stages),
                dict(ctx.target) if ctx.target else None,
            )
            if at_least is not None:
                quantities[at_least[0]] = max(quantities.get(at_least[0], 0), at_least[1])
            reservation_id = await request_hold(
                uow.holds,
                emitter(uow, ctx),
                ctx.run_id,
                ctx.account_id,
                quantities or {"clustering": 0},
                eng.hold_ttl_s,
                ctx.run_id,
            )
            eng.log.write(ctx.run_id, None, "credits.reserve", "reserving credits", **quantities)
        await uow.commit()
    clock = asyncio.get_running_loop()
    resend_at = clock.time() + eng.reserve_wait_s
    expect = (R.RESERVING,) if initial else (R.RUNNING,)
    waits = waiter(eng.poll_s, ctx.run_id, eng.signals)
    while True:
        waits.arm()
        await between_items(eng, ctx, expect=expect)  # pause and cancel work while we wait
        async with eng.unit_of_work() as uow:
            hold = await uow.holds.hold(reservation_id)
        assert hold is not None
        if hold.status is HoldStatus.RESERVED:
            if initial:
                await _running(eng, ctx)
            return True
        if hold.status is HoldStatus.REJECTED:
            reply = hold.reply or {}
            if initial and not await _started(eng, ctx):
                async with eng.unit_of_work() as uow:
                    await uow.runs.guard(ctx.run_id, ctx.token)
                    await uow.runs.update_run(ctx.run_id, rejection=reply)
                    await uow.commit()
                await finish(eng, ctx, R.REJECTED, reply.get("reason"))
                return False
            await pause(eng, ctx, f"insufficient_credits: {reply.get('detail', '')}".strip())
        waited = eng.clock.now() - hold.created_at if hold.created_at else timedelta(0)
        if waited > timedelta(seconds=eng.reserve_deadline_s):
            if not initial:
                await pause(eng, ctx, "credits: no reply from billing")
            reason = (
                f"billing did not answer the credit reservation within {eng.reserve_deadline_s:g} s"
            )
            await finish(eng, ctx, R.FAILED, reason)
            raise Stop(R.FAILED)
        if clock.time() >= resend_at:
            async with eng.unit_of_work() as uow:
                await uow.runs.guard(ctx.run_id, ctx.token)
                await resend_reserve(emitter(uow, ctx), hold, eng.hold_ttl_s, ctx.run_id)
                await uow.commit()
            eng.log.write(ctx.run_id, None, "credits.resend", "no answer yet; reserve sent again")
            resend_at = clock.time() + eng.reserve_wait_s
        await waits.wait()


async def _started(eng: RunEngine, ctx: RunContext) -> bool:
    async with eng.unit_of_work() as uow:
        run = await uow.runs.run(ctx.run_id)
    return run is not None and run.started_at is not None


async def _running(eng: RunEngine, ctx: RunContext) -> None:
    async with eng.unit_of_work() as uow:
        current = await uow.runs.guard(ctx.run_id, ctx.token)
        if await uow.runs.transition(ctx.run_id, (R.RESERVING,), R.RUNNING):
            await uow.runs.update_run(ctx.run_id, started_at=current.started_at or eng.clock.now())
            await run_event(eng, uow, current, "resumed" if current.started_at else R.RUNNING)
        await uow.commit()


async def hold_for(eng: RunEngine, ctx: RunContext, operation: str, ceiling: int) -> int:
    """The credits this item's most expensive outcome costs, once a live hold covers it —
    topping the holds up when short, pausing the run when billing will not."""
    for _ in range(3):
        async with eng.unit_of_work() as uow:
            holds = await uow.holds.holds(ctx.run_id)
        now = eng.clock.now()
        found = covering_hold(holds, operation, ceiling, now)
        if found is not None:
            return found[1]
        if only_expired(holds, now):
            eng.log.write(ctx.run_id, None, "credits.expired", "the hold expired; reserving again")
        await reserve(eng, ctx, initial=False, at_least=(operation, ceiling))
    await pause(eng, ctx, "insufficient_credits")
    raise AssertionError("unreachable")


def commit_id_of(ctx: RunContext, key: str) -> uuid.UUID:
    """Deterministic: a redone capture of the same item is billing's duplicate, never a second
    charge."""
    return uuid.uuid5(NAMESPACE, f"{ctx.run_id}:{key}")


NAMESPACE = uuid.UUID("5b0f3c6e-7a57-4b8e-9f0e-1a6c0f3d2b11")
