"""The optimizer's credit saga paths with the real database and the real consumer handler:
billing's answers are delivered as its events would be (the whole-stack test,
`tests/test_publishing_optimizer.py`, runs the real billing). Rejected → nothing charged; an
AI failure or a changed article → the hold released, nothing captured; an answer that does not
improve the score → charged, the article left as it was; the capture never exceeds the
reservation; a crashed worker's optimization is taken over once its lease runs out."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.encoders import jsonable_encoder

from igny8.ai import AIUnavailable, AIUsage
from igny8.contracts import TOPICS
from igny8.contracts import credits as wire
from igny8.credit_saga import HoldStatus
from igny8.messaging import outbox
from publishing.app.optimize import OptimizerPolicy, Optimizing, request_optimization, view
from publishing.domain.errors import NotFound
from publishing.domain.optimizer import current
from publishing.entrypoints.events import credit_replies_subscription
from publishing.entrypoints.http_models import Optimization

pytestmark = pytest.mark.integration
USAGE = AIUsage("dev/model", 100, 50, 0)


class FakeOptimizer:
    """Answers with a fixed function of the request (or fails), and counts its calls."""

    def __init__(self, answer=None, error: Exception | None = None) -> None:  # type: ignore[no-untyped-def]
        self.answer, self.error, self.calls = answer, error, 0

    async def propose(self, messages: list[dict[str, str]]) -> tuple[dict[str, Any], AIUsage]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        data = json.loads(messages[-1]["content"].split("INPUT (JSON):\n", 1)[1])
        return self.answer(data), USAGE


def echo(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: data[k]
        for k in ("seo_title", "meta_description", "introduction", "subheadings", "image_alts")
    }


async def _setup(driver) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:  # type: ignore[no-untyped-def]
    account = uuid.uuid4()
    site = await driver.site(account)
    content = driver.content(site, keyphrase="worm farms", title="A guide for small gardens")
    await driver.ready(account, content)
    return account, site, content.content_id


async def _request(driver, account, site, content_id) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with driver.uow() as uow:
        row, created = await request_optimization(
            uow, account, site, content_id, "user:u1", driver.clock, 900
        )
        await uow.commit()
    assert created
    return row


async def _commands(driver, topic: str, reservation: uuid.UUID | None = None) -> list[dict]:  # type: ignore[no-untyped-def]
    async with driver.engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox.c.value).where(outbox.c.topic == topic))
        found = [json.loads(r.value)["data"] for r in rows]
    return [f for f in found if reservation is None or f["reservation_id"] == str(reservation)]


async def _reply(driver, account: uuid.UUID, topic: str, payload) -> None:  # type: ignore[no-untyped-def]
    handler = credit_replies_subscription(driver.clock).handler
    envelope = TOPICS.envelope(topic, payload, source="billing", account_id=account)
    async with driver.sessions() as session, session.begin():
        await handler(envelope, TOPICS.payload(envelope), session)


async def _hold_of(driver, optimization_id: uuid.UUID):  # type: ignore[no-untyped-def]
    async with driver.uow() as uow:
        [hold] = await uow.holds.holds(optimization_id)
        return hold


def _reserved(hold, driver, credits: int = 50) -> wire.CreditsReserved:  # type: ignore[no-untyped-def]
    return wire.CreditsReserved(
        reservation_id=hold.reservation_id,
        credits=credits,
        expires_at=driver.clock.now() + timedelta(minutes=15),
        available_after=1000,
        prices={
            "optimization": wire.Price(unit="per_200_words", credits_per_unit=1, minimum_credits=2)
        },
    )


def _optimizing(driver, optimizer) -> Optimizing:  # type: ignore[no-untyped-def]
    return Optimizing(driver.uow, optimizer, driver.clock, OptimizerPolicy(60, 900, 30))


async def _row(driver, optimization_id) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with driver.uow() as uow:
        return await uow.optimizations.get(optimization_id)


async def test_a_rejected_reservation_charges_nothing_and_may_be_asked_again(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    [reserve] = await _commands(
        driver, "credit.reserve", (await _hold_of(driver, row["optimization_id"])).reservation_id
    )
    assert reserve["items"] == [{"operation": "optimization", "quantity": row["quantity"]}]
    hold = await _hold_of(driver, row["optimization_id"])
    await _reply(
        driver,
        account,
        "credit.rejected",
        wire.CreditsRejected(
            reservation_id=hold.reservation_id,
            reason="insufficient_credits",
            required=4,
            available=1,
        ),
    )
    rejected = await _row(driver, row["optimization_id"])
    assert (rejected["status"], rejected["reason"]) == ("rejected", "insufficient_credits")
    optimizer = FakeOptimizer(echo)
    assert await _optimizing(driver, optimizer).tick() == 0 and optimizer.calls == 0
    assert await _commands(driver, "credit.commit", hold.reservation_id) == []
    again = await _request(driver, account, site, content_id)
    assert again["optimization_id"] != row["optimization_id"]


async def test_an_ai_failure_releases_the_hold_and_captures_nothing(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver))
    assert (await _row(driver, row["optimization_id"]))["status"] == "ready"
    optimizer = FakeOptimizer(error=AIUnavailable("provider down"))
    assert await _optimizing(driver, optimizer).tick() == 1
    failed = await _row(driver, row["optimization_id"])
    for shown in (row, failed):  # what the HTTP routes answer is what their document says
        Optimization.model_validate(jsonable_encoder(view(shown)), strict=False)
    assert (failed["status"], failed["reason"], failed["credits"]) == (
        "failed",
        "ai_AIUnavailable",
        0,
    )
    assert await _commands(driver, "credit.commit", hold.reservation_id) == []
    assert len(await _commands(driver, "credit.release", hold.reservation_id)) == 1
    assert (await _hold_of(driver, row["optimization_id"])).status is HoldStatus.RELEASING


async def test_no_improvement_is_charged_once_and_leaves_the_article_as_it_was(driver):
    account, site, content_id = await _setup(driver)
    async with driver.uow() as uow:
        article_before = await uow.articles.get(content_id)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver))
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver))  # a redelivery
    optimizing = _optimizing(driver, FakeOptimizer(echo))
    assert await optimizing.tick() == 1
    assert await optimizing.tick() == 0, "done once"
    done = await _row(driver, row["optimization_id"])
    assert done["status"] == "completed" and done["kept"] is False and done["diff"] == []
    [commit] = await _commands(driver, "credit.commit", hold.reservation_id)
    # the capture is the reserved quantity at the hold's prices: never more than reserved
    assert commit["quantity"] == row["quantity"] and commit["operation"] == "optimization"
    assert done["credits"] == max(2, -(-row["quantity"] // 200)) <= 50
    assert commit["usage"]["input_tokens"] == 100
    # no release beside the commit: on its own topic it can be applied first, end the
    # reservation and leave the commit refused (the optimization unbilled); billing ends a
    # reservation whose last credit is captured
    assert await _commands(driver, "credit.release", hold.reservation_id) == []
    # what the hold has left goes back once billing has answered the capture
    answered = wire.CreditsCommitted(
        reservation_id=hold.reservation_id,
        commit_id=uuid.UUID(commit["commit_id"]),
        credits=done["credits"],
        remaining_hold=50 - done["credits"],
        balance_after=950,
    )
    await _reply(driver, account, "credit.committed", answered)
    await _reply(driver, account, "credit.committed", answered)  # a redelivery
    assert len(await _commands(driver, "credit.release", hold.reservation_id)) == 1
    assert (await _hold_of(driver, row["optimization_id"])).status is HoldStatus.RELEASING
    async with driver.uow() as uow:
        article_after = await uow.articles.get(content_id)
    assert current(article_after) == current(article_before)
    assert article_after.score == article_before.score


async def test_an_article_changed_meanwhile_is_left_alone(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver))
    newer = driver.content(site, content_id, version=2, keyphrase="worm farms")
    await driver.ready(account, newer)
    optimizer = FakeOptimizer(echo)
    await _optimizing(driver, optimizer).tick()
    stale = await _row(driver, row["optimization_id"])
    assert (stale["status"], stale["reason"]) == ("stale", "article_changed")
    assert optimizer.calls == 0, "no model call for an outdated version"
    assert await _commands(driver, "credit.commit", hold.reservation_id) == []


async def test_an_article_edited_during_the_model_call_is_not_charged(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver))

    class EditedMeanwhile(FakeOptimizer):
        async def propose(self, messages):  # type: ignore[no-untyped-def]
            answer = await super().propose(messages)
            newer = driver.content(site, content_id, version=2, keyphrase="worm farms")
            await driver.ready(account, newer)  # the edit lands while the model answers
            return answer

    optimizer = EditedMeanwhile(echo)
    assert await _optimizing(driver, optimizer).tick() == 1
    stale = await _row(driver, row["optimization_id"])
    assert optimizer.calls == 1
    assert (stale["status"], stale["reason"], stale["credits"]) == ("stale", "article_changed", 0)
    assert await _commands(driver, "credit.commit", hold.reservation_id) == []
    assert len(await _commands(driver, "credit.release", hold.reservation_id)) == 1
    assert (await _hold_of(driver, row["optimization_id"])).status is HoldStatus.RELEASING
    async with driver.uow() as uow:
        article_after = await uow.articles.get(content_id)
    assert article_after.version == 2, "the edit is kept, the stale answer not applied"


async def test_a_hold_the_capture_uses_up_is_closed_without_a_release(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    exact = max(2, -(-row["quantity"] // 200))  # what billing holds for the quantity
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver, credits=exact))
    assert await _optimizing(driver, FakeOptimizer(echo)).tick() == 1
    assert (await _row(driver, row["optimization_id"]))["credits"] == exact
    assert len(await _commands(driver, "credit.commit", hold.reservation_id)) == 1
    # billing ends a reservation whose last credit is captured: a release could only overtake
    # the capture on its own topic and leave the work unbilled
    assert await _commands(driver, "credit.release", hold.reservation_id) == []
    assert (await _hold_of(driver, row["optimization_id"])).status is HoldStatus.RELEASED


async def test_a_crashed_workers_optimization_is_taken_over_after_its_lease(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    await _reply(driver, account, "credit.reserved", _reserved(hold, driver))
    async with driver.uow() as uow:  # what a worker that died mid-call leaves behind
        await uow.optimizations.update(
            row["optimization_id"],
            status="running",
            lease_until=driver.clock.now() + timedelta(seconds=60),
        )
        await uow.commit()
    optimizing = _optimizing(driver, FakeOptimizer(echo))
    assert await optimizing.tick() == 0, "the lease still holds"
    driver.clock.advance(seconds=61)
    assert await optimizing.tick() == 1
    assert (await _row(driver, row["optimization_id"]))["status"] == "completed"
    assert len(await _commands(driver, "credit.commit", hold.reservation_id)) == 1


async def test_an_unanswered_reserve_is_sent_again_unchanged(driver):
    account, site, content_id = await _setup(driver)
    row = await _request(driver, account, site, content_id)
    hold = await _hold_of(driver, row["optimization_id"])
    optimizing = _optimizing(driver, FakeOptimizer(echo))
    await optimizing.tick()
    assert len(await _commands(driver, "credit.reserve", hold.reservation_id)) == 1
    driver.clock.advance(seconds=31)
    await optimizing.tick()
    sent = await _commands(driver, "credit.reserve", hold.reservation_id)
    assert len(sent) == 2 and sent[0] == sent[1]


async def test_another_accounts_article_is_not_found(driver):
    _, site, content_id = await _setup(driver)
    async with driver.uow() as uow:
        with pytest.raises(NotFound):
            await request_optimization(uow, uuid.uuid4(), site, content_id, "u", driver.clock, 900)
