"""Malformed credit commands: typed rejections or dead letters, and the ledger untouched."""

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


class RecordingBroker:
    """Stands in for the broker's publish only, to see what would be dead-lettered."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    async def publish(self, value: bytes, topic: str, key: bytes | None, headers: dict) -> None:
        self.published.append((topic, headers))


def record(topic: str, value: bytes, key: bytes) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, partition=0, offset=7, key=key, value=value, headers=[])


async def outbox_for(engine, account: uuid.UUID) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT value FROM outbox WHERE key = :k ORDER BY id"),
            {"k": str(account).encode()},
        )
        return [json.loads(bytes(r.value)) for r in rows]


async def ledger_rows(engine, account: uuid.UUID) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    sa.text("SELECT count(*) FROM ledger_entries WHERE account_id = :a"),
                    {"a": account},
                )
            ).scalar()
        )


async def test_malformed_commands_get_typed_answers_or_dead_letters_and_leave_the_ledger_alone(
    billing, engine
):
    account = await billing.open(credits=100)
    before = await ledger_rows(engine, account)
    broker = RecordingBroker()
    consumer = InboxConsumer(
        "billing",
        command_subscription(billing.clock, billing.policy),
        TOPICS,
        session_factory(engine),
        broker,
        ConsumerSettings(max_attempts=1),
    )  # type: ignore[arg-type]
    key = str(account).encode()
    reserve = TOPICS.envelope(
        "credit.reserve",
        wire.ReserveCredits(
            reservation_id=uuid.uuid4(),
            items=[wire.ReserveItem(operation="clustering", quantity=1)],
        ),
        source="automation",
        account_id=account,
    )
    bad_reserve = reserve.model_copy(
        update={
            "id": uuid.uuid4(),
            "data": {"reservation_id": str(uuid.uuid4()), "items": [], "ttl_seconds": 10**9},
        }
    )
    bad_commit = TOPICS.envelope(
        "credit.commit",
        wire.CommitCredits(
            reservation_id=uuid.uuid4(), commit_id=uuid.uuid4(), operation="clustering", quantity=1
        ),
        source="automation",
        account_id=account,
    ).model_copy(update={"data": {"commit_id": "nope"}})
    no_account = reserve.model_copy(update={"id": uuid.uuid4(), "account_id": None})

    assert (
        await consumer.handle(record("credit.reserve", bad_reserve.to_bytes(), key)) == "rejected"
    )
    assert await consumer.handle(record("credit.commit", bad_commit.to_bytes(), key)) == "rejected"
    assert await consumer.handle(record("credit.reserve", b"\x00garbage", key)) == "dead_lettered"
    assert (
        await consumer.handle(record("credit.reserve", no_account.to_bytes(), key))
        == "dead_lettered"
    )
    assert [t for t, _ in broker.published] == ["credit.reserve.dlq", "credit.reserve.dlq"]
    assert {h["dlq-reason"] for _, h in broker.published} == {"undecodable", "rejected_by_handler"}

    replies = [
        (m["type"], m["data"])
        for m in await outbox_for(engine, account)
        if m["type"] in ("credit.rejected", "credit.command_failed")
    ]
    assert replies[0][0] == "credit.rejected" and replies[0][1]["reason"] == "invalid"
    assert replies[0][1]["reservation_id"] == bad_reserve.data["reservation_id"]
    assert replies[1][0] == "credit.command_failed" and replies[1][1]["reason"] == "invalid"
    assert await ledger_rows(engine, account) == before, "the ledger is untouched"
    assert await billing.balance(account) == (100, 0)
