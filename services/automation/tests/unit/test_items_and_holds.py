"""The credit-hold and item logic on an in-memory unit of work: which hold pays, topping up, the
per-run cap, failure counting."""

from __future__ import annotations

from typing import Any

import pytest

from automation.app.items import run_item
from automation.app.run_context import Stop
from automation.domain.ai import AIUnavailable
from automation.domain.config import AutomationConfig
from automation.domain.runs import RunStatus


def work_of(words: int, calls: list[int]) -> Any:
    async def work() -> tuple[Any, Any, int]:
        calls.append(words)
        from decimal import Decimal

        from automation.domain.ai import AIUsage

        return {"words": words}, AIUsage("fake", 1, 2, Decimal("0")), words

    return work


async def save(uow: Any, result: Any) -> dict[str, Any]:
    return {"saved": result["words"]}


async def test_an_item_is_charged_its_delivered_words_from_the_hold_that_covers_it(world) -> None:
    ctx = world.run()
    calls: list[int] = []
    assert await run_item(world.engine, ctx, 4, "s4:a", work_of(731, calls), save) == "done"
    commit = world.topics("credit.commit")[0]
    assert (commit.operation, commit.quantity) == ("content_generation", 731)
    (hold,) = world.holds.rows.values()
    assert hold.remaining == 1_000 - 8, "8 credits for 731 words at 1 per 100"
    assert world.runs.rows[ctx.run_id].credits_charged == 8
    assert world.items.states["s4:a"]["credits"] == 8


async def test_a_finished_item_is_not_asked_for_again(world) -> None:
    ctx = world.run()
    calls: list[int] = []
    await run_item(world.engine, ctx, 4, "s4:a", work_of(300, calls), save)
    assert await run_item(world.engine, ctx, 4, "s4:a", work_of(300, calls), save) == "skipped"
    assert calls == [300]
    assert len(world.topics("credit.commit")) == 1


async def test_a_hold_too_small_for_the_ceiling_is_topped_up_before_the_ai_call(world) -> None:
    ctx = world.run()
    sizes = iter([3, 1_000])  # the first hold cannot cover an article's ceiling
    world.holds.answer = lambda items: next(sizes)
    calls: list[int] = []
    assert await run_item(world.engine, ctx, 4, "s4:a", work_of(400, calls), save) == "done"
    reserves = world.topics("credit.reserve")
    assert len(reserves) == 2
    topped = {i.operation: i.quantity for i in reserves[1].items}
    assert topped["content_generation"] >= 1200 * 1.3, "at least the item's ceiling"
    assert world.topics("credit.commit")[0].reservation_id == reserves[1].reservation_id


async def test_an_item_that_could_exceed_the_run_cap_does_not_start(world) -> None:
    ctx = world.run(AutomationConfig(max_credits=50), credits_charged=45)
    calls: list[int] = []
    with pytest.raises(Stop):
        await run_item(world.engine, ctx, 1, "s1:a", work_of(1, calls), save)
    assert calls == [], "the AI is not called"
    row = world.runs.rows[ctx.run_id]
    assert row.status == "paused" and (row.pause_reason or "").startswith("credit_cap_reached")


async def test_consecutive_failures_pause_the_run_and_a_success_resets_the_count(world) -> None:
    ctx = world.run()

    async def failing() -> tuple[Any, Any, int]:
        raise AIUnavailable("503 from the provider")

    calls: list[int] = []
    assert await run_item(world.engine, ctx, 1, "s1:a", failing, save) == "failed"
    assert await run_item(world.engine, ctx, 1, "s1:b", failing, save) == "failed"
    assert await run_item(world.engine, ctx, 1, "s1:c", work_of(1, calls), save) == "done"
    assert await run_item(world.engine, ctx, 1, "s1:d", failing, save) == "failed"
    assert await run_item(world.engine, ctx, 1, "s1:e", failing, save) == "failed"
    assert world.runs.rows[ctx.run_id].status == "running", "the success reset the count"
    with pytest.raises(Stop):
        await run_item(world.engine, ctx, 1, "s1:f", failing, save)
    assert (world.runs.rows[ctx.run_id].pause_reason or "").startswith("provider_failures")
    assert world.items.states["s1:a"]["status"] == "failed"
    assert not world.topics("credit.commit")[1:], "failed calls are not charged"


async def test_a_late_finisher_after_a_cancel_writes_and_charges_nothing(world) -> None:
    ctx = world.run()

    async def slow() -> tuple[Any, Any, int]:
        world.runs.set(ctx.run_id, status=RunStatus.CANCELLED)  # ended while the AI worked
        return await work_of(300, [])()

    from automation.domain.runs import LeaseLost

    with pytest.raises(LeaseLost):
        await run_item(world.engine, ctx, 4, "s4:a", slow, save)
    assert world.topics("credit.commit") == []
    assert "s4:a" not in world.items.states


def test_the_state_machine_ends_driven_runs_through_finishing() -> None:
    from automation.domain.runs import ENDED, TRANSITIONS, RunStatus, allowed

    assert allowed(("reserving", "running"), "finishing")
    assert not allowed(("running",), "completed"), "completion waits in finishing"
    assert not allowed(("cancelled",), "running"), "an ended run is never revived"
    assert all(s not in TRANSITIONS for s in ENDED)
    assert set(TRANSITIONS[RunStatus.FINISHING]) == set(ENDED)
