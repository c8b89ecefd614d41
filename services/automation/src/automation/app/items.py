"""One checkpointed unit of work: done, skipped (already done) or failed (not charged).

Before the AI call a live hold must cover the item's most expensive outcome; after it, the item's
actual usage is claimed and captured, its results saved and its checkpoint written — all in one
transaction, which a late finisher (the run was paused or ended meanwhile, or taken over) cannot
commit. A failure after a paid AI call (storage, database) is recorded without calling the
provider again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from automation.app.ai_budget import CallGate, Slot, holding_budget
from automation.app.credit_holds import commit_id_of, hold_for
from automation.app.run_context import RunContext, Stop
from automation.app.run_lifecycle import emitter, finish, pause, take_requests
from automation.domain.ai import AIError, AINotConfigured, AIQuotaExceeded, AIUsage
from automation.domain.runs import (
    OPERATION,
    ItemDetail,
    ItemStatus,
    LeaseLost,
    Run,
    RunStatus,
    item_quantity_ceiling,
)
from automation.ports import UnitOfWork
from igny8.contracts import credits as wire
from igny8.credit_saga import Hold, claim, covering_hold

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine

T = TypeVar("T")
Work = Callable[[], Awaitable[tuple[T, AIUsage | None, int]]]
"""The AI call: its result, usage and the quantity to charge (words, ideas, 1)."""
Save = Callable[[UnitOfWork, T], Awaitable[ItemDetail]]
"""Stores the result in the item's transaction; returns the checkpoint's detail."""
SAVE_ATTEMPTS = 3


@dataclass(frozen=True)
class Look:
    """The item's one read before its AI call: the run (its requests and state), whether the
    item is done already, and the run's holds."""

    run: Run
    done: bool
    holds: Sequence[Hold]


async def look(uow: UnitOfWork, ctx: RunContext, key: str, charged: bool) -> Look:
    """Within the caller's (read-only) unit: a caller that reads more before an item (stage 6's
    image command) folds this into its own read instead of a transaction more."""
    current, done = await uow.runs.peek(ctx.run_id, ctx.token, key)  # writes nothing
    holds = await uow.holds.holds(ctx.run_id) if charged else []
    return Look(current, done, holds)


async def run_item(
    eng: RunEngine,
    ctx: RunContext,
    stage: int,
    key: str,
    work: Work[T],
    save: Save[T],
    looked: Look | None = None,
    gate: CallGate | None = None,
    next_key: str | None = None,
) -> str:
    """`gate` bounds this process's calls (stage 6's images): taken for the call only (the next
    call's budget slot is taken while it waits), so one image's save overlaps the next's call.
    `next_key`: the stage's next item, whose look goes in this item's commit (`Ahead`)."""
    operation = OPERATION.get(stage)
    first: _FirstLook | None = None
    ahead = eng.ahead.pop(ctx.run_id, None) if looked is None else None
    if ahead is not None and ahead.key != key:  # not the item it was taken for
        await release_ahead(eng, ahead)
        ahead = None
    if ahead is not None:
        looked, first = ahead.looked, ahead.first
    elif looked is None:  # one read: the run's requests, whether the item is done, the holds
        async with eng.unit_of_work() as uow:
            looked = await look(uow, ctx, key, operation is not None)
            if gate is None and eng.ai_budget is not None and _clear(eng, ctx, looked, stage):
                # nothing stands in the call's way: its first look at the AI budget goes in this
                # unit, which commits — instead of a read rolled back and the budget's own
                call_id, granted = await eng.ai_budget.first_look_in(uow, ctx.account_id)
                first = _FirstLook(call_id, granted)
                await uow.commit()
    try:
        return await _run_item(eng, ctx, stage, key, work, save, looked, gate, first, next_key)
    finally:
        if first is not None and not first.taken and eng.ai_budget is not None:
            await asyncio.shield(eng.ai_budget.release(first.call_id))  # never used


@dataclass
class _FirstLook:
    call_id: uuid.UUID
    granted: bool
    taken: bool = False
    """Handed to the call (which gives the slot back from then on)."""


@dataclass(frozen=True)
class Ahead:
    """The next item's look (and its first look at the AI budget), taken in this item's commit
    transaction: the item after it needs no transaction of its own before its AI call. Kept on
    the engine per run until that item starts; `release_ahead` gives its slot back otherwise."""

    key: str
    looked: Look
    first: _FirstLook | None


async def release_ahead(eng: RunEngine, ahead: Ahead | None) -> None:
    if ahead is not None and ahead.first is not None and eng.ai_budget is not None:
        await asyncio.shield(eng.ai_budget.release(ahead.first.call_id))


def _clear(eng: RunEngine, ctx: RunContext, looked: Look, stage: int) -> bool:
    """The item will call the AI: the run is running and nothing was asked of it, the item is
    not done, and a live hold covers its most expensive outcome within the run's credit cap
    (otherwise the item's usual path acts on what stands in the way)."""
    current = looked.run
    if current.requested is not None or current.status is not RunStatus.RUNNING or looked.done:
        return False
    operation = OPERATION.get(stage)
    if operation is None:
        return True
    ceiling = item_quantity_ceiling(stage, ctx.config)
    found = covering_hold(list(looked.holds), operation, ceiling, eng.clock.now())
    cap = ctx.config.max_credits
    return found is not None and (cap is None or current.credits_charged + found[1] <= cap)


async def _run_item(
    eng: RunEngine,
    ctx: RunContext,
    stage: int,
    key: str,
    work: Work[T],
    save: Save[T],
    looked: Look,
    gate: CallGate | None,
    first: _FirstLook | None,
    next_key: str | None = None,
) -> str:
    operation = OPERATION.get(stage)
    ceiling = item_quantity_ceiling(stage, ctx.config)
    current, done, holds = looked.run, looked.done, list(looked.holds)
    await take_requests(eng, ctx, current, (RunStatus.RUNNING,), may_yield=True)
    if done:
        return ItemStatus.SKIPPED
    if operation:  # make sure the most this item can cost is held before calling the AI
        found = covering_hold(holds, operation, ceiling, eng.clock.now())
        cost = found[1] if found else await hold_for(eng, ctx, operation, ceiling)
        cap, spent = ctx.config.max_credits, current.credits_charged
        if cap is not None and spent + cost > cap:
            await pause(eng, ctx, f"credit_cap_reached: {spent} of {cap} spent")
    looked_first = None
    if first is not None:
        first.taken = True
        looked_first = (first.call_id, first.granted)
    try:
        (result, usage, quantity), slot = await holding_budget(
            eng.ai_budget, ctx.account_id, work, looked_first, gate
        )
    except AINotConfigured as error:
        await finish(eng, ctx, RunStatus.FAILED, error.detail)
        raise Stop(RunStatus.FAILED) from None
    except AIQuotaExceeded as error:
        await record_failure(eng, ctx, stage, key, error)
        await pause(eng, ctx, "provider_quota")
        raise AssertionError("unreachable") from None
    except AIError as error:
        await record_failure(eng, ctx, stage, key, error)
        if eng.count_failure(ctx.run_id):
            await pause(eng, ctx, f"provider_failures: {error.detail}")
        return ItemStatus.FAILED
    eng.count_success(ctx.run_id)
    try:  # the slot goes back with the checkpoint; any other way out gives it back here
        return await save_item(eng, ctx, stage, key, result, usage, quantity, save, slot, next_key)
    finally:
        await slot.release()


async def save_item(
    eng: RunEngine,
    ctx: RunContext,
    stage: int,
    key: str,
    result: T,
    usage: AIUsage | None,
    quantity: int,
    save: Save[T],
    slot: Slot | None = None,
    next_key: str | None = None,
) -> str:
    operation = OPERATION.get(stage)
    slot = slot or Slot(None, None)
    failures = 0
    while True:
        try:
            credits = await _commit_item(
                eng, ctx, stage, key, result, usage, quantity, save, slot, next_key
            )
        except (LeaseLost, Stop):
            eng.log.write(ctx.run_id, stage, "item.discarded", key, why="the run moved on")
            raise
        except _ShortHold:
            assert operation is not None
            await slot.release()  # not held while billing tops the holds up
            await hold_for(eng, ctx, operation, quantity)  # top up first, then claim again
            continue
        except Exception as error:  # storage or database, after a paid AI call
            await slot.release()
            failures += 1
            if failures < SAVE_ATTEMPTS:
                await asyncio.sleep(eng.poll_s * 2**failures)
                continue
            await record_failure(eng, ctx, stage, key, error)
            return ItemStatus.FAILED
        if credits is None:
            return ItemStatus.SKIPPED
        break
    eng.log.write(ctx.run_id, stage, "item.done", key, credits=credits)
    if ctx.config.delay_within_stage_s:
        await asyncio.sleep(ctx.config.delay_within_stage_s)
    return ItemStatus.DONE


class _ShortHold(Exception):
    pass


async def _commit_item(
    eng: RunEngine,
    ctx: RunContext,
    stage: int,
    key: str,
    result: T,
    usage: AIUsage | None,
    quantity: int,
    save: Save[T],
    slot: Slot,
    next_key: str | None = None,
) -> int | None:
    """The item's one transaction — liveness (the fencing token and a running run), done-ness,
    the claim, the results, the checkpoint and the AI slot given back; the credits charged, None
    when it was already done."""
    operation = OPERATION.get(stage)
    async with eng.unit_of_work() as uow:
        # only a running run takes results: a late finisher after a pause or an end writes nothing
        await uow.runs.guard(ctx.run_id, ctx.token, (RunStatus.RUNNING,))
        if await uow.items.item_done(ctx.run_id, key):
            return None
        credits, commit_id = 0, None
        if operation:
            commit_id = commit_id_of(ctx, key)
            claimed = await claim(
                uow.holds,
                emitter(uow, ctx),
                ctx.run_id,
                operation,
                quantity,
                commit_id,
                eng.clock.now(),
                usage=_wire_usage(usage),
                ref=wire.UsageRef(run_id=ctx.run_id, stage=stage, item_id=key[:200]),
            )
            if claimed is None:
                raise _ShortHold
            credits = claimed
            await uow.runs.add_charge(ctx.run_id, credits)
        detail = await save(uow, result)
        await uow.items.checkpoint(
            ctx.run_id, key, stage, ItemStatus.DONE, commit_id, credits, detail
        )
        if stage == 6:  # the driver waits for images other workers make
            await uow.run_queue.signal_run(ctx.run_id)
        looked = await look(uow, ctx, next_key, operation is not None) if next_key else None
        await slot.release_in(uow)  # late: it takes the budget's lock until the commit
        first = None
        if looked is not None and eng.ai_budget is not None and _clear(eng, ctx, looked, stage):
            first = _FirstLook(*await eng.ai_budget.first_look_in(uow, ctx.account_id))
        await uow.commit()
    slot.committed()
    if looked is not None and next_key is not None:
        await release_ahead(eng, eng.ahead.pop(ctx.run_id, None))  # none expected
        eng.ahead[ctx.run_id] = Ahead(next_key, looked, first)
    return credits


def _wire_usage(usage: AIUsage | None) -> wire.Usage | None:
    if usage is None:
        return None
    return wire.Usage(
        model=usage.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        provider_cost_usd=usage.provider_cost_usd,
    )


async def record_failure(
    eng: RunEngine, ctx: RunContext, stage: int, key: str, error: Exception
) -> None:
    detail = getattr(error, "detail", None) or str(error) or type(error).__name__
    async with eng.unit_of_work() as uow:
        await uow.items.checkpoint(
            ctx.run_id,
            key,
            stage,
            ItemStatus.FAILED,
            detail={"error": type(error).__name__, "detail": detail[:500]},
        )
        if stage == 6:
            await uow.run_queue.signal_run(ctx.run_id)
        await uow.commit()
    eng.log.write(
        ctx.run_id, stage, "item.failed", key, error=type(error).__name__, detail=detail[:200]
    )
