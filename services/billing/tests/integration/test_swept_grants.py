"""Captures keep working after a grant the reservation drew on was swept (issue 9, §1.1).

A reservation draws on the soonest-expiring grant first, so its first captures use that grant's
hold up. Once the grant lapses (promo) or is replaced (next plan period) it is swept holding
nothing and no longer loaded with the account; later captures on the reservation must still work.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from billing.domain.model import GrantKind
from billing.entrypoints.timers import sweep_once

pytestmark = pytest.mark.integration


async def holds_of(billing, reservation: uuid.UUID) -> dict[uuid.UUID, int]:
    async with billing.engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT grant_id, amount FROM reservation_holds WHERE reservation_id = :r"),
            {"r": reservation},
        )
        return dict(rows.all())


async def test_captures_continue_after_the_promo_they_started_on_expired(billing):
    account = await billing.open()
    paid = await billing.grant(account, 100)  # never expires
    promo = await billing.grant(account, 20, GrantKind.PROMO, expires_in=60)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("idea_generation", 20), reservation=reservation)  # 40
    assert await holds_of(billing, reservation) == {
        promo.grant.grant_id: 20,
        paid.grant.grant_id: 20,
    }

    first = await billing.commit(account, reservation, "idea_generation", 10)  # 20: the promo
    assert first.payload["remaining_hold"] == 20
    billing.clock.advance(120)  # the promo lapses, holding nothing any more
    await sweep_once(billing.sessions, billing.clock, billing.policy)

    second = await billing.commit(account, reservation, "idea_generation", 5)
    assert (second.payload["credits"], second.payload["remaining_hold"]) == (10, 10)
    last = await billing.commit(account, reservation, "idea_generation", 5)
    assert last.payload["remaining_hold"] == 0
    assert await billing.balance(account) == (80, 0)
    assert await billing.violations() == {}


async def test_captures_continue_after_a_plan_renewal_mid_run(billing):
    account = await billing.open()
    await billing.grant(account, 100)  # paid
    await billing.grant(account, 30, GrantKind.PLAN, expires_in=3600)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("image_generation", 10), reservation=reservation)  # 50
    await billing.commit(account, reservation, "image_generation", 6)  # 30: the plan's share

    await billing.grant(account, 200, GrantKind.PLAN, expires_in=7200)  # the next period
    committed = await billing.commit(account, reservation, "image_generation", 2)
    assert committed.payload["remaining_hold"] == 10
    released = await billing.release(account, reservation)
    assert released.payload["released_credits"] == 10
    assert await billing.balance(account) == (90 + 200, 0)
    assert await billing.violations() == {}


async def test_a_release_after_the_drawn_grant_was_swept_returns_the_rest(billing):
    account = await billing.open()
    await billing.grant(account, 100)
    await billing.grant(account, 10, GrantKind.PROMO, expires_in=60)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("clustering", 3), reservation=reservation)  # 30
    await billing.commit(account, reservation, "clustering", 1)  # 10: the promo's share
    billing.clock.advance(120)
    await sweep_once(billing.sessions, billing.clock, billing.policy)
    released = await billing.release(account, reservation)
    assert released.payload["released_credits"] == 20
    assert await billing.balance(account) == (100, 0)
    assert await billing.violations() == {}
