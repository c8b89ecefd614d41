"""Every money rule at its exact boundary (issue 9, §1.3).

`image_prompt_extraction` costs 1 credit per item (minimum 1), so a quantity is a credit amount.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from billing.domain.errors import HoldExceeded
from billing.domain.model import GrantKind

pytestmark = pytest.mark.integration
ONE_CREDIT = "image_prompt_extraction"


async def alerts(engine, account: uuid.UUID) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT value FROM outbox WHERE topic = 'balance.low' AND key = :k ORDER BY id"
            ),
            {"k": str(account).encode()},
        )
        return [json.loads(bytes(r.value))["data"] for r in rows]


async def test_a_reserve_of_available_plus_one_is_rejected_and_of_available_accepted(billing):
    account = await billing.open(credits=37)
    over = await billing.reserve(account, (ONE_CREDIT, 38))
    assert (over.topic, over.payload["reason"]) == ("credit.rejected", "insufficient_credits")
    assert (over.payload["required"], over.payload["available"]) == (38, 37)
    assert await billing.balance(account) == (37, 0)
    exact = await billing.reserve(account, (ONE_CREDIT, 37))
    assert exact.topic == "credit.reserved"
    assert exact.payload["available_after"] == 0
    assert await billing.balance(account) == (0, 37)
    assert await billing.violations() == {}


async def test_a_capture_of_the_remaining_hold_plus_one_fails_and_of_the_remaining_succeeds(
    billing,
):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()
    await billing.reserve(account, (ONE_CREDIT, 10), reservation=reservation)
    await billing.commit(account, reservation, ONE_CREDIT, 4)
    with pytest.raises(HoldExceeded):
        await billing.commit(account, reservation, ONE_CREDIT, 7)
    exact = await billing.commit(account, reservation, ONE_CREDIT, 6)
    assert (exact.payload["credits"], exact.payload["remaining_hold"]) == (6, 0)
    assert await billing.balance(account) == (90, 0)
    assert await billing.violations() == {}


async def test_a_grant_expiring_at_the_instant_of_the_command_is_no_longer_spendable(billing):
    account = await billing.open()
    await billing.grant(account, 50, GrantKind.PROMO, expires_in=60)
    expiry = billing.clock.now() + timedelta(seconds=60)

    billing.clock.at = expiry - timedelta(microseconds=1)  # the last instant it is valid
    last = await billing.reserve(account, (ONE_CREDIT, 49))
    assert (last.topic, last.payload["available_after"]) == ("credit.reserved", 1)
    billing.clock.at = expiry
    first = await billing.reserve(account, (ONE_CREDIT, 1))
    assert (first.payload["reason"], first.payload["available"]) == ("insufficient_credits", 0)
    assert await billing.balance(account) == (0, 49), "the last credit lapsed at the instant"
    assert await billing.violations() == {}


async def test_credits_released_at_the_instant_their_grant_expires_lapse(billing):
    account = await billing.open()
    await billing.grant(account, 50, GrantKind.PROMO, expires_in=60)
    reservation = uuid.uuid4()
    await billing.reserve(account, (ONE_CREDIT, 20), reservation=reservation)
    billing.clock.advance(60)  # exactly the expiry
    released = await billing.release(account, reservation)
    assert released.payload["released_credits"] == 20
    assert await billing.balance(account) == (0, 0), "released at the expiry instant: lapsed"
    assert await billing.violations() == {}


async def test_balance_low_fires_when_available_falls_one_credit_below_the_threshold(
    billing, engine
):
    account = await billing.open(credits=60, threshold=50)
    await billing.reserve(account, (ONE_CREDIT, 10))  # exactly the threshold: not below
    assert await alerts(engine, account) == []
    await billing.reserve(account, (ONE_CREDIT, 1))  # one below
    assert await alerts(engine, account) == [{"available": 49, "threshold": 50}]
    await billing.grant(account, 1)  # back at the threshold: re-armed
    await billing.reserve(account, (ONE_CREDIT, 1))
    assert await alerts(engine, account) == [
        {"available": 49, "threshold": 50},
        {"available": 49, "threshold": 50},
    ]
