"""A release that overtakes its reserve (issue 9, §1.2).

Reserve and release travel on different topics, so a release can arrive first. Billing answers it
`unknown_reservation` but remembers it (a tombstone), and the reserve that follows is refused with
`credit.rejected` reason `released` — instead of holding credits nobody will ever release.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from billing.entrypoints.events import command_subscription
from igny8.contracts import TOPICS
from igny8.contracts import credits as wire
from igny8.db import session_factory
from igny8.messaging import ConsumerSettings, InboxConsumer

pytestmark = pytest.mark.integration


def record(envelope) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    key = str(envelope.account_id).encode()
    return SimpleNamespace(
        topic=envelope.type, partition=0, offset=1, key=key, value=envelope.to_bytes(), headers=[]
    )


async def replies(engine, account: uuid.UUID) -> list[tuple[str, dict]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT value FROM outbox WHERE key = :k ORDER BY id"),
            {"k": str(account).encode()},
        )
        return [
            (m["type"], m["data"])
            for m in (json.loads(bytes(r.value)) for r in rows)
            if m["type"] != "balance.low" and m["type"] != "credit.granted"
        ]


@pytest.fixture
def consumer(billing, engine) -> InboxConsumer:
    return InboxConsumer(
        "billing",
        command_subscription(billing.clock, billing.policy),
        TOPICS,
        session_factory(engine),
        object(),  # type: ignore[arg-type] - nothing here is dead-lettered
        ConsumerSettings(max_attempts=1),
    )


def reserve(account: uuid.UUID, reservation: uuid.UUID):  # type: ignore[no-untyped-def]
    return TOPICS.envelope(
        "credit.reserve",
        wire.ReserveCredits(
            reservation_id=reservation,
            items=[wire.ReserveItem(operation="clustering", quantity=2)],
        ),
        source="automation",
        account_id=account,
    )


def release(account: uuid.UUID, reservation: uuid.UUID):  # type: ignore[no-untyped-def]
    return TOPICS.envelope(
        "credit.release",
        wire.ReleaseCredits(reservation_id=reservation),
        source="automation",
        account_id=account,
    )


async def test_a_reserve_after_its_release_is_rejected_released_and_holds_nothing(
    billing, engine, consumer
):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()

    assert await consumer.handle(record(release(account, reservation))) == "applied"
    assert await consumer.handle(record(reserve(account, reservation))) == "applied"
    # a retry of the reserve (new envelope id, same command) gets the same answer
    assert await consumer.handle(record(reserve(account, reservation))) == "applied"

    answers = await replies(engine, account)
    assert answers[0][0] == "credit.command_failed"
    assert answers[0][1]["reason"] == "unknown_reservation"
    assert [a[0] for a in answers[1:]] == ["credit.rejected", "credit.rejected"]
    assert answers[1][1]["reason"] == "released"
    assert answers[1][1]["reservation_id"] == str(reservation)
    assert answers[2][1] == answers[1][1]
    assert await billing.balance(account) == (100, 0), "nothing is held"
    assert await billing.violations() == {}


async def test_a_release_of_another_accounts_reservation_does_not_block_it(
    billing, engine, consumer
):
    owner = await billing.open(credits=100)
    intruder = await billing.open(credits=100)
    reservation = uuid.uuid4()
    assert await consumer.handle(record(release(intruder, reservation))) == "applied"
    assert await consumer.handle(record(reserve(owner, reservation))) == "applied"
    (answer,) = await replies(engine, owner)
    assert answer[0] == "credit.reserved"
    assert await billing.balance(owner) == (80, 20)


async def test_the_use_case_remembers_a_release_of_an_unknown_reservation(billing):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()
    answered = await billing.release(account, reservation)
    assert answered.topic == "credit.command_failed"
    assert answered.payload["reason"] == "unknown_reservation"
    refused = await billing.reserve(account, ("clustering", 1), reservation=reservation)
    assert (refused.topic, refused.payload["reason"]) == ("credit.rejected", "released")
    assert await billing.balance(account) == (100, 0)
