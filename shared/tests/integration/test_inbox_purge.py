"""The inbox is bounded: rows older than dead-letter retention plus a margin are purged
periodically (by the active outbox relay), younger ones stay so a replay is still a duplicate."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import sqlalchemy as sa

from igny8.messaging import OutboxRelay, RelaySettings
from igny8.messaging.retention import DLQ_RETENTION_S, INBOX_KEEP_S

pytestmark = pytest.mark.integration
DAY = 86_400


async def inbox_ages(engine) -> dict[str, float]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT consumer, extract(epoch FROM now() - received_at) AS age FROM inbox")
        )
        return {r.consumer: float(r.age) for r in rows}


async def test_the_relay_purges_inbox_rows_past_dead_letter_retention_and_keeps_the_rest(
    engine, kafka_bootstrap
):
    ages_days = {"fresh": 0, "dlq-window": 29, "margin": DLQ_RETENTION_S / DAY + 1, "old": 60}
    async with engine.begin() as conn:
        for consumer, days in ages_days.items():
            await conn.execute(
                sa.text(
                    "INSERT INTO inbox (consumer, message_id, received_at) "
                    "VALUES (:c, :m, now() - make_interval(secs => :s))"
                ),
                {"c": consumer, "m": uuid.uuid4(), "s": days * DAY},
            )
    relay = OutboxRelay(engine, kafka_bootstrap, f"purger{uuid.uuid4().hex[:6]}", RelaySettings())
    task = asyncio.create_task(relay.run())
    try:
        for _ in range(300):
            if "old" not in await inbox_ages(engine):
                break
            await asyncio.sleep(0.1)
        assert set(await inbox_ages(engine)) == {"fresh", "dlq-window", "margin"}
    finally:
        relay.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


def test_inbox_rows_are_kept_at_least_as_long_as_dead_letters_plus_a_margin():
    assert INBOX_KEEP_S >= DLQ_RETENTION_S + DAY
    assert RelaySettings().keep_inbox_s == INBOX_KEEP_S
    with pytest.raises(ValueError, match="dead-letter retention"):
        RelaySettings(keep_inbox_s=DLQ_RETENTION_S)
