"""Row locks serialize one account's commands: concurrent reserves never overdraw."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

pytestmark = pytest.mark.integration


async def test_200_concurrent_reserves_on_an_account_covering_k_of_them_accept_exactly_k(billing):
    k = 73
    account = await billing.open(credits=10 * k)  # one clustering request costs 10

    outcomes = await asyncio.gather(
        *(billing.reserve(account, ("clustering", 1)) for _ in range(200))
    )
    counts = Counter(o.topic for o in outcomes)
    assert counts == {"credit.reserved": k, "credit.rejected": 200 - k}
    assert {o.payload["reason"] for o in outcomes if o.topic == "credit.rejected"} == {
        "insufficient_credits"
    }
    assert await billing.balance(account) == (0, 10 * k)
    assert await billing.violations() == {}


async def test_concurrent_retries_of_one_reservation_have_one_effect(billing):
    account = await billing.open(credits=1000)
    reservation = uuid.uuid4()

    async def attempt():
        try:
            return await billing.reserve(account, ("clustering", 2), reservation=reservation)
        except Exception as exc:  # a lost insert race surfaces as a unique violation
            return exc

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    outcomes = [r for r in results if not isinstance(r, Exception)]
    assert outcomes and all(o == outcomes[0] for o in outcomes)
    assert await billing.balance(account) == (980, 20)
