"""A run through the shared AI budget (as every deployed worker runs): an item takes its first
look at the budget in its own read and gives its slot back in its checkpoint, and nothing of
that changes what is called or charged — every slot is given back, whichever way an item ends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from automation.adapters.postgres_ai_budget import PostgresAIBudget
from automation.adapters.sqlalchemy_tables import ai_calls_in_flight, run_items

pytestmark = pytest.mark.integration

SMALL = {
    "ideas_per_cluster": 1,
    "target_word_count": 200,
    "inline_images": 1,
    "image_size": "32x32",
}


async def _slots_left(h) -> int:
    async with h.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(ai_calls_in_flight)
                    .where(ai_calls_in_flight.c.holder == h.run_engine.worker_id)
                )
            ).scalar_one()
        )


async def test_a_run_through_the_shared_budget_calls_once_per_item_and_gives_every_slot_back(
    harness,
):
    h = harness
    budget = h.run_engine.ai_budget = PostgresAIBudget(
        h.sessions, "dev", limit=2, per_account=16, holder=h.run_engine.worker_id
    )
    first_looks = 0
    first_look_in = budget.first_look_in

    async def counted(uow, account_id):
        nonlocal first_looks
        first_looks += 1
        return await first_look_in(uow, account_id)

    budget.first_look_in = counted  # type: ignore[method-assign]
    await h.add_site(SMALL)
    await h.add_keywords(6)
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    run = await h.drive_until(run_id, {"completed", "failed", "paused", "cancelled"})
    assert run["status"] == "completed", run
    assert h.ai.calls == {
        "cluster_keywords": 1,
        "generate_ideas": 2,
        "generate_content": 2,
        "generate_image_prompts": 2,
        "generate_image": 4,
    }
    assert set(h.ai.inputs.values()) == {1}, "no input was sent to the provider twice"
    assert first_looks == 7, "stages 1, 2, 4 and 5 took their slot in the item's own read"
    assert await _slots_left(h) == 0, "every slot went back with its checkpoint"


async def test_an_item_that_fails_after_its_call_gives_its_slot_back_on_its_own(harness):
    h = harness
    h.run_engine.ai_budget = PostgresAIBudget(
        h.sessions, "dev", limit=2, per_account=16, holder=h.run_engine.worker_id
    )
    await h.add_site({**SMALL, "inline_images": 0})
    await h.add_keywords(3)
    h.storage.fail = True  # every image's save fails after its paid call
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    run = await h.drive_until(run_id, {"completed", "failed", "paused"})
    assert run["status"] == "completed", run
    async with h.engine.connect() as conn:
        failed = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    run_items.c.run_id == run_id,
                    run_items.c.stage == 6,
                    run_items.c.status == "failed",
                )
            )
        ).scalar_one()
    assert failed == h.ai.calls["generate_image"] == 1
    assert await _slots_left(h) == 0, "the failed item's slot went back without a checkpoint"


async def test_a_look_taken_ahead_for_an_item_that_never_starts_gives_its_slot_back(
    harness, monkeypatch
):
    """An item's commit takes the next item's look and first slot (`items.Ahead`); when the
    stage stops before that item (here: its progress event fails), the slot goes back at once,
    not when its row's lease runs out."""
    h = harness
    h.run_engine.ai_budget = PostgresAIBudget(
        h.sessions, "dev", limit=2, per_account=16, holder=h.run_engine.worker_id
    )
    from automation.app.stages import ideas

    async def failing_progress(*args, **kwargs):
        raise RuntimeError("the progress event could not be stored")

    monkeypatch.setattr(ideas, "progress", failing_progress)
    await h.add_site(SMALL)
    await h.add_keywords(6)  # two clusters: two stage-2 items, the second looked at ahead
    run_id = await h.start([1, 2])
    with pytest.raises(RuntimeError):
        await h.run_engine.drive(run_id)
    assert h.ai.calls == {"cluster_keywords": 1, "generate_ideas": 1}
    assert h.run_engine.ahead == {}
    assert await _slots_left(h) == 0, "the slot taken ahead went back"
