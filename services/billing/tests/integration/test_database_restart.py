"""Credit commands arriving while billing's PostgreSQL restarts wait, and none is dead-lettered
(issue 9, §2.1): a parked credit.commit would be an undercharge, a parked credit.reserve a stuck
run. Billing's real command handler on a PostgreSQL cluster of the test's own."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from billing_driver import Billing

from billing.bootstrap import SERVICE_ROOT
from billing.entrypoints.events import command_subscription
from igny8.contracts import TOPICS
from igny8.contracts import credits as wire
from igny8.db import create_engine, migrations, session_factory
from igny8.messaging import ConsumerSettings, InboxConsumer
from igny8.testing import create_database, wait_until

pytestmark = pytest.mark.integration
ONE_CREDIT = "image_prompt_extraction"


class RecordingBroker:
    def __init__(self) -> None:
        self.dead_letters: list[str] = []

    async def publish(self, value: bytes, topic: str, key: bytes | None, headers: dict) -> None:
        self.dead_letters.append(topic)


def records(account: uuid.UUID, payloads: list, first_offset: int) -> list[SimpleNamespace]:
    out = []
    for n, (topic, payload) in enumerate(payloads):
        envelope = TOPICS.envelope(topic, payload, source="automation", account_id=account)
        out.append(
            SimpleNamespace(
                topic=topic,
                partition=0,
                offset=first_offset + n,
                key=str(account).encode(),
                value=envelope.to_bytes(),
                headers=[],
            )
        )
    return out


async def test_credit_commands_wait_out_a_database_restart_and_none_is_parked(private_postgres):
    url = await create_database(private_postgres.admin_url, "billing_restart")
    await asyncio.to_thread(migrations.upgrade, SERVICE_ROOT, url)
    engine = create_engine(url, 5)
    billing = Billing(engine)
    broker = RecordingBroker()
    consumer = InboxConsumer(
        "billing",
        command_subscription(billing.clock, billing.policy),
        TOPICS,
        session_factory(engine),
        broker,  # type: ignore[arg-type]
        ConsumerSettings(retry_backoff_s=0.05, transient_backoff_max_s=0.5, hold_batch_s=2),
    )

    async def consume(batch: list) -> None:
        """As the subscriber does: a batch handed back is polled again from where it stopped."""
        while batch:
            batch = await consumer.handle_batch(batch)

    try:
        account = await billing.open(credits=100)
        reservation = uuid.uuid4()
        reserve = wire.ReserveCredits(
            reservation_id=reservation, items=[wire.ReserveItem(operation=ONE_CREDIT, quantity=50)]
        )
        commits = [
            (
                "credit.commit",
                wire.CommitCredits(
                    reservation_id=reservation,
                    commit_id=uuid.uuid4(),
                    operation=ONE_CREDIT,
                    quantity=1,
                ),
            )
            for _ in range(20)
        ]
        release = ("credit.release", wire.ReleaseCredits(reservation_id=reservation))
        before = records(account, [("credit.reserve", reserve), *commits[:10]], 0)
        during = records(account, [*commits[10:], release], len(before))

        await consume(before)
        private_postgres.stop()
        flowing = asyncio.create_task(consume(during))
        await wait_until(lambda: _true(consumer.waiting()), 30)
        await asyncio.sleep(8)  # the database stays away well past the retries of wave 1
        assert not flowing.done()
        private_postgres.start()
        await asyncio.wait_for(flowing, 120)

        assert broker.dead_letters == [], "a money command was parked"
        assert consumer.waiting() == []
        async with engine.connect() as conn:
            replies = [
                json.loads(bytes(v))["type"]
                for v in (
                    await conn.execute(sa.text("SELECT value FROM outbox ORDER BY id"))
                ).scalars()
            ]
        assert replies.count("credit.committed") == 20
        assert replies.count("credit.released") == 1
        assert "credit.command_failed" not in replies
        assert await billing.balance(account) == (80, 0), "20 captured, the rest released"
        assert await billing.violations() == {}
    finally:
        await engine.dispose()


async def _true(value: object) -> bool:
    return bool(value)
