"""The run engine on the real database, with billing and the image consumer played by the
harness: runs that cannot be stranded, resurrected or under-billed, and no AI call made twice."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import contents, image_prompts, run_holds, run_items
from automation.app.runs import start_run
from automation.domain.errors import RunConflict
from igny8.contracts import credits as wire

pytestmark = pytest.mark.integration

SMALL = {
    "ideas_per_cluster": 1,
    "target_word_count": 200,
    "inline_images": 1,
    "image_size": "32x32",
}


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never met")


async def test_a_full_run_calls_the_ai_once_per_item_and_charges_the_words_delivered(harness):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(6)
    h.ai.article_words = 500  # well over target x word_limit_factor (260), within the token limit
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
    async with h.engine.connect() as conn:
        written = (
            await conn.execute(
                sa.select(contents.c.word_count, contents.c.html).where(contents.c.run_id == run_id)
            )
        ).all()
    commits = [
        e.data for e in h.topics("credit.commit") if e.data["operation"] == "content_generation"
    ]
    assert sorted(c["quantity"] for c in commits) == sorted(w.word_count for w in written)
    assert all(w.word_count > 260 for w in written), "more than target x word_limit_factor"
    assert all(t >= 500 for t in h.ai.max_tokens), "the token limit is the item's word ceiling"
    for row in written:  # inline image 1 follows the first H2, with its alt text
        first_h2 = row.html.index("</h2>")
        image = re.search(r'<img [^>]*alt="Inline picture 1"', row.html)
        assert image is not None and image.start() > first_h2, row.html[:300]
        assert image.start() < row.html.index("<h2>", first_h2)


async def test_a_reserve_without_an_answer_is_resent_and_the_run_fails_at_the_deadline(harness):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.answer_reserves = False
    h.run_engine.reserve_wait_s = 0.2
    h.run_engine.reserve_deadline_s = 1.5
    run_id = await h.start([1])
    run = await h.drive_until(run_id, {"failed", "running", "completed"}, timeout=8)
    assert run["status"] == "failed"
    assert "billing" in (run["error"] or "")
    reserves = h.topics("credit.reserve")
    assert len(reserves) >= 2, "re-sent on each wait timeout"
    assert len({e.data["reservation_id"] for e in reserves}) == 1, "the same reservation id"
    assert len({e.id for e in reserves}) == len(reserves), "each time under a new envelope"
    assert h.topics("credit.release") == [], "nothing billing never confirmed is released"
    async with h.uow() as uow:  # the site is free again
        await start_run(uow, h.account, h.site, [1])


async def test_cancel_while_reserving_frees_the_site_and_a_late_reservation_is_released(
    harness, action
):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.answer_reserves = False
    h.run_engine.reserve_wait_s = 30
    run_id = await h.start([1])
    driving = asyncio.create_task(h.run_engine.drive(run_id))
    await until(lambda: _sent(h, "credit.reserve"))
    await action(h, run_id, "cancel")
    await asyncio.wait_for(driving, 5)
    assert (await h.run(run_id))["status"] == "cancelled"
    assert h.topics("credit.release") == [], "the unconfirmed hold is not released"
    await h.answer_pending("credit.reserve")  # billing's late answer
    await until(lambda: _sent(h, "credit.release"))
    released = h.topics("credit.release")[0].data["reservation_id"]
    assert released == h.topics("credit.reserve")[0].data["reservation_id"]
    async with h.uow() as uow:
        await start_run(uow, h.account, h.site, [1])


async def test_a_queued_run_cancelled_says_why_it_ended(harness, action):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    async with h.uow() as uow:  # waiting for a slot: nobody drives it
        run_id = await start_run(uow, h.account, h.site, [1])
        await uow.commit()
    assert (await h.run(run_id))["status"] == "queued"
    await action(h, run_id, "cancel")
    run = await h.run(run_id)
    assert (run["status"], run["end_reason"]) == ("cancelled", "cancelled on request")
    assert run["ended_at"] is not None


async def test_pause_while_reserving_takes_effect_and_resume_reserves_again(harness, action):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.answer_reserves = False
    h.run_engine.reserve_wait_s = 30
    run_id = await h.start([1])
    driving = asyncio.create_task(h.run_engine.drive(run_id))
    await until(lambda: _sent(h, "credit.reserve"))
    await action(h, run_id, "pause")
    await asyncio.wait_for(driving, 5)
    assert (await h.run(run_id))["status"] == "paused"
    h.answer_reserves = True
    await action(h, run_id, "resume")
    run = await h.drive_until(run_id, {"completed", "failed"})
    assert run["status"] == "completed"
    assert h.ai.calls["cluster_keywords"] == 1


async def test_a_rejection_as_released_is_final_for_the_hold(harness, action):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.answer_reserves = False
    run_id = await h.start([1])
    driving = asyncio.create_task(h.run_engine.drive(run_id))
    await until(lambda: _sent(h, "credit.reserve"))
    await action(h, run_id, "cancel")
    await asyncio.wait_for(driving, 5)
    reservation_id = uuid.UUID(h.topics("credit.reserve")[0].data["reservation_id"])
    rejected = wire.CreditsRejected.model_construct(
        reservation_id=reservation_id, reason="released", detail="released before reserved"
    )
    await h.reply("credit.rejected", rejected)
    await h.answer_pending("credit.reserve")  # a duplicate answer after that changes nothing
    await asyncio.sleep(0.2)
    async with h.engine.connect() as conn:
        status = (
            await conn.execute(
                sa.select(run_holds.c.status).where(run_holds.c.reservation_id == reservation_id)
            )
        ).scalar_one()
    assert status == "rejected"
    assert h.topics("credit.release") == []


async def test_an_image_finishing_after_a_cancel_is_discarded_and_charges_nothing(harness, action):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.ai.image_gate = asyncio.Event()
    run_id = await h.start([1, 2, 3, 4, 5, 6])

    async def in_stage_6() -> bool:
        return h.ai.image_entered.is_set()

    driving = asyncio.create_task(h.drive_until(run_id, {"cancelled", "completed", "paused"}))
    await until(in_stage_6, 15)
    await action(h, run_id, "cancel")
    run = await asyncio.wait_for(driving, 10)
    assert run["status"] == "cancelled"
    h.ai.image_gate.set()  # the image calls in flight finish now
    await asyncio.sleep(1.0)
    run = await h.run(run_id)
    assert run["status"] == "cancelled", "a late finisher does not revive the run"
    assert len(h.topics("credit.reserve")) == 1, "no new reservation for an ended run"
    assert not [
        e for e in h.topics("credit.commit") if e.data["operation"] == "image_generation"
    ], "nothing charged for discarded work"


async def test_a_resume_racing_a_cancel_does_not_revive_the_run(harness, action):
    h = harness
    await h.add_site(SMALL)
    run_id = await h.start([1])
    await h.set_run(run_id, status="paused", pause_reason="requested")
    from automation.app import runs as run_cases
    from igny8.clock import SystemClock

    cancelling = h.uow()
    await cancelling.__aenter__()
    run = await cancelling.runs.run(run_id)
    await run_cases.cancel_run(cancelling, run, SystemClock(), "cancelled on request")

    async def resume() -> None:
        await action(h, run_id, "resume")

    resuming = asyncio.create_task(resume())
    await asyncio.sleep(0.5)  # the resume reads `paused` and waits on the cancel's row lock
    await cancelling.commit()
    await cancelling.__aexit__(None, None, None)
    with pytest.raises(RunConflict):
        await resuming
    assert (await h.run(run_id))["status"] == "cancelled"


async def test_holds_are_released_only_after_every_capture_is_answered(harness):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.answer_commits = False
    run_id = await h.start([1])
    driving = asyncio.create_task(h.drive_until(run_id, {"completed", "failed"}, timeout=30))
    await until(lambda: _sent(h, "credit.commit"))
    await asyncio.sleep(h.run_engine.reserve_wait_s * 3)  # longer than any wait for billing
    assert h.topics("credit.release") == [], "no release while a capture is unanswered"
    assert (await h.run(run_id))["status"] == "finishing"
    await h.answer_pending("credit.commit")
    run = await asyncio.wait_for(driving, 10)
    assert run["status"] == "completed"
    await until(lambda: _sent(h, "credit.release"))


async def test_stage_6_skips_a_deleted_prompt_and_fails_an_image_nobody_made(harness):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    h.pump_images = False
    h.run_engine.image_deadline_s = 1.0
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    driving = asyncio.create_task(h.drive_until(run_id, {"completed", "failed", "paused"}))
    await until(lambda: _sent(h, "image.generate"))
    commands = h.topics("image.generate")
    gone = uuid.UUID(commands[0].data["prompt_id"])
    async with h.engine.begin() as conn:
        await conn.execute(sa.delete(image_prompts).where(image_prompts.c.prompt_id == gone))
    for command in commands[:1]:
        await h.run_engine.image_item(
            run_id, command.data["fencing_token"], uuid.UUID(command.data["prompt_id"])
        )
    run = await asyncio.wait_for(driving, 15)
    assert run["status"] == "completed"
    async with h.uow() as uow:
        result = (await uow.runs.stage_results(run_id))[6]
    assert result.skipped == 1, result
    assert result.failed == len(commands) - 1, result
    assert h.ai.calls["generate_image"] == 0


async def test_an_image_whose_storage_fails_is_recorded_failed_without_a_second_ai_call(harness):
    h = harness
    await h.add_site({**SMALL, "inline_images": 0})
    await h.add_keywords(3)
    h.storage.fail = True
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    run = await h.drive_until(run_id, {"completed", "failed", "paused"})
    assert run["status"] == "completed"
    async with h.engine.connect() as conn:
        failed = (
            await conn.execute(
                sa.select(run_items.c.item_key).where(
                    run_items.c.run_id == run_id,
                    run_items.c.stage == 6,
                    run_items.c.status == "failed",
                )
            )
        ).all()
    assert len(failed) == h.ai.calls["generate_image"] == 1
    command = h.topics("image.generate")[0]  # the command delivered again (a retry)
    await h.run_engine.image_item(
        run_id, command.data["fencing_token"], uuid.UUID(command.data["prompt_id"])
    )
    assert h.ai.calls["generate_image"] == 1, "the provider is not called again"


async def test_a_regeneration_taken_over_after_its_checkpoint_does_not_write_again(harness):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(3)
    run_id = await h.start([1, 2, 3, 4])
    assert (await h.drive_until(run_id, {"completed", "failed"}))["status"] == "completed"
    async with h.engine.connect() as conn:
        content_id = (
            (
                await conn.execute(
                    sa.select(contents.c.content_id).where(contents.c.run_id == run_id)
                )
            )
            .scalars()
            .first()
        )
    from automation.app.runs import regenerate_content

    async with h.uow() as uow:
        again = await regenerate_content(uow, h.account, h.site, content_id)
        await uow.commit()
    assert (await h.drive_until(again, {"completed", "failed"}))["status"] == "completed"
    calls = h.ai.calls["generate_content"]
    # the worker died after the item's checkpoint, before the stage's result: a takeover
    async with h.engine.begin() as conn:
        await conn.execute(sa.text("DELETE FROM stage_results WHERE run_id = :r"), {"r": again})
    await h.set_run(again, status="running", ended_at=None, lease_owner=None)
    assert (await h.drive_until(again, {"completed", "failed"}))["status"] == "completed"
    assert h.ai.calls["generate_content"] == calls, "the finished item is not written again"


async def test_a_stage_taken_up_again_counts_the_items_done_before(harness):
    h = harness
    await h.add_site(SMALL)
    await h.add_keywords(6)
    run_id = await h.start([1, 2])
    assert (await h.drive_until(run_id, {"completed", "failed"}))["status"] == "completed"
    async with h.uow() as uow:
        first = (await uow.runs.stage_results(run_id))[2]
    assert first.done == h.ai.calls["generate_ideas"] >= 2, first
    # the worker died after the stage's items, before its result: the next drive finds them done
    async with h.engine.begin() as conn:
        await conn.execute(
            sa.text("DELETE FROM stage_results WHERE run_id = :r AND stage = 2"), {"r": run_id}
        )
    await h.set_run(run_id, status="running", ended_at=None, lease_owner=None)
    assert (await h.drive_until(run_id, {"completed", "failed"}))["status"] == "completed"
    async with h.uow() as uow:
        again = (await uow.runs.stage_results(run_id))[2]
    assert (again.done, again.total, again.credits) == (first.done, first.total, first.credits)


async def _sent_topic(h, topic: str) -> bool:
    return bool(h.topics(topic))


def _sent(h, topic: str):
    return _sent_topic(h, topic)


async def test_the_image_consumer_holds_no_transaction_across_the_provider_call(harness):
    from aiokafka import ConsumerRecord

    from automation.entrypoints.events import image_subscription
    from igny8.contracts import TOPICS
    from igny8.messaging import ConsumerSettings, InboxConsumer

    h = harness
    await h.add_site({**SMALL, "inline_images": 0})
    await h.add_keywords(3)
    h.pump_images = False
    run_id = await h.start([1, 2, 3, 4, 5, 6])
    driving = asyncio.create_task(h.drive_until(run_id, {"completed", "failed", "paused"}))
    await until(lambda: _sent(h, "image.generate"))
    driving.cancel()  # only the consumer works from here on (the run stays running)
    await asyncio.gather(driving, return_exceptions=True)
    assert h._pump is not None
    h._pump.cancel()
    subscription = image_subscription(h.run_engine)
    # a few records in flight (the consumer polls again the moment one ends: igny8.messaging.flow)
    assert subscription.parallel and subscription.own_transactions
    assert subscription.max_batch is not None
    assert subscription.max_batch <= 4 * h.run_engine.image_concurrency, "a few in flight"
    consumer = InboxConsumer(
        "automation",
        subscription,
        TOPICS,
        h.sessions,
        None,
        ConsumerSettings(),  # type: ignore[arg-type]
    )
    envelope = h.topics("image.generate")[0]
    record = ConsumerRecord(
        topic="image.generate",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=str(run_id).encode(),
        value=envelope.to_bytes(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )
    h.ai.image_gate = asyncio.Event()
    handled = asyncio.create_task(consumer.handle(record))
    await until(lambda: _entered(h))
    async with h.engine.connect() as conn:  # while the provider works on the image
        open_transactions = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
        ).scalar_one()
    h.ai.image_gate.set()
    assert await asyncio.wait_for(handled, 10) == "applied"
    assert open_transactions == 0, "no transaction is held across the provider call"
    assert await consumer.handle(record) == "duplicate"
    assert h.ai.calls["generate_image"] == 1


async def _entered(h) -> bool:
    return h.ai.image_entered.is_set()
