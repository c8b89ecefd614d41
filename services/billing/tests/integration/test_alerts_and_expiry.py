"""balance.low fires once per crossing; the sweeper ends overdue holds with reason `expired`."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from billing.entrypoints.timers import sweep_once

pytestmark = pytest.mark.integration


async def emitted(engine, account: uuid.UUID, topic: str) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT value FROM outbox WHERE topic = :t AND key = :k ORDER BY id"),
            {"t": topic, "k": str(account).encode()},
        )
        return [json.loads(bytes(r.value)) for r in rows]


async def test_balance_low_fires_once_per_crossing_and_rearms_after_recovery(billing, engine):
    account = await billing.open(credits=100, threshold=50)
    await billing.reserve(account, ("clustering", 3))  # 70 left: above
    assert await emitted(engine, account, "balance.low") == []
    await billing.reserve(account, ("clustering", 3))  # 40 left: crosses
    await billing.reserve(account, ("clustering", 1))  # 30 left: still below, no second alert
    alerts = await emitted(engine, account, "balance.low")
    assert [a["data"] for a in alerts] == [{"available": 40, "threshold": 50}]
    await billing.grant(account, 100)  # 130: recovers, re-arms
    await billing.reserve(account, ("clustering", 9))  # 40: crosses again
    assert len(await emitted(engine, account, "balance.low")) == 2


async def test_grants_are_announced(billing, engine):
    account = await billing.open()
    granted = await billing.grant(account, 42)
    (event,) = await emitted(engine, account, "credit.granted")
    assert event["data"]["grant_id"] == str(granted.grant.grant_id)
    assert (event["data"]["credits"], event["data"]["kind"]) == (42, "paid")


async def test_the_sweeper_expires_overdue_holds_once(billing, engine):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("clustering", 2), reservation=reservation, ttl=60)
    await sweep_once(billing.sessions, billing.clock, billing.policy)
    assert await emitted(engine, account, "credit.released") == [], "not due yet"
    billing.clock.advance(61)
    await sweep_once(billing.sessions, billing.clock, billing.policy)
    await sweep_once(billing.sessions, billing.clock, billing.policy)
    (released,) = await emitted(engine, account, "credit.released")
    assert released["data"] == {
        "reservation_id": str(reservation),
        "released_credits": 20,
        "reason": "expired",
    }
    assert await billing.balance(account) == (100, 0)
    replay = await billing.release(account, reservation)  # a late release gets the expiry outcome
    assert replay.payload["reason"] == "expired"
    assert await billing.violations() == {}
