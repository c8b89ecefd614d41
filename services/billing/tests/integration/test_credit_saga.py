"""The reservation saga on the real database: effects, replies, typed failures, invariants."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from billing.domain.errors import Conflict, HoldExceeded, ReservationEnded, UnknownReservation
from billing.domain.model import GrantKind

pytestmark = pytest.mark.integration


async def test_reserve_capture_release_moves_credits_and_keeps_the_books_balanced(billing):
    account = await billing.open(credits=1000)
    reservation = uuid.uuid4()
    reserved = await billing.reserve(
        account, ("content_generation", 1500), ("clustering", 1), reservation=reservation
    )
    assert reserved.topic == "credit.reserved"
    assert reserved.payload["credits"] == 15 + 10
    assert reserved.payload["available_after"] == 975
    assert reserved.payload["prices"]["content_generation"] == {
        "unit": "per_100_words",
        "credits_per_unit": 1,
        "minimum_credits": 5,
    }
    assert await billing.balance(account) == (975, 25)

    committed = await billing.commit(account, reservation, "content_generation", 1201)
    assert committed.payload["credits"] == 13  # 1201 words = 13 units, rounded up
    assert committed.payload["remaining_hold"] == 12
    released = await billing.release(account, reservation)
    assert released.payload == {
        "reservation_id": str(reservation),
        "released_credits": 12,
        "reason": "released",
    }
    assert await billing.balance(account) == (987, 0)
    assert await billing.violations() == {}


async def test_reserve_is_refused_when_available_is_short_and_nothing_moves(billing):
    account = await billing.open(credits=20)
    refused = await billing.reserve(account, ("image_generation", 5))
    assert refused.topic == "credit.rejected"
    assert refused.payload["reason"] == "insufficient_credits"
    assert (refused.payload["required"], refused.payload["available"]) == (25, 20)
    assert await billing.balance(account) == (20, 0)


async def test_unknown_account_and_operation_are_typed_rejections(billing):
    unknown = await billing.reserve(uuid.uuid4(), ("clustering", 1))
    assert unknown.payload["reason"] == "unknown_account"
    account = await billing.open(credits=100)
    bad_op = await billing.reserve(account, ("telepathy", 1))
    assert bad_op.payload["reason"] == "unknown_operation"
    assert await billing.balance(account) == (100, 0)


async def test_a_retried_reserve_gets_the_original_outcome_and_no_second_hold(billing):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()
    first = await billing.reserve(account, ("clustering", 2), reservation=reservation)
    again = await billing.reserve(account, ("clustering", 2), reservation=reservation)
    assert again == first
    assert await billing.balance(account) == (80, 20)
    with pytest.raises(Conflict):
        await billing.reserve(account, ("clustering", 3), reservation=reservation)
    assert await billing.balance(account) == (80, 20)


async def test_a_refused_reserve_stays_refused_on_retry_even_after_a_grant(billing):
    account = await billing.open(credits=5)
    reservation = uuid.uuid4()
    first = await billing.reserve(account, ("clustering", 1), reservation=reservation)
    await billing.grant(account, 100)
    assert await billing.reserve(account, ("clustering", 1), reservation=reservation) == first


async def test_captures_are_idempotent_on_commit_id_and_bounded_by_the_hold(billing):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("idea_generation", 10), reservation=reservation)  # 20 credits
    commit_id = uuid.uuid4()
    first = await billing.commit(account, reservation, "idea_generation", 4, commit_id)
    assert await billing.commit(account, reservation, "idea_generation", 4, commit_id) == first
    with pytest.raises(Conflict):
        await billing.commit(account, reservation, "idea_generation", 5, commit_id)
    with pytest.raises(HoldExceeded):
        await billing.commit(account, reservation, "idea_generation", 7)  # 14 > 12 remaining
    last = await billing.commit(account, reservation, "idea_generation", 6)
    assert last.payload["remaining_hold"] == 0
    with pytest.raises(ReservationEnded):  # fully captured: ended
        await billing.commit(account, reservation, "idea_generation", 1)
    with pytest.raises(ReservationEnded):
        await billing.release(account, reservation)
    assert await billing.balance(account) == (80, 0)
    assert await billing.violations() == {}


async def test_release_twice_answers_the_original_release(billing):
    account = await billing.open(credits=100)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("linking", 1), reservation=reservation)
    first = await billing.release(account, reservation)
    assert await billing.release(account, reservation) == first
    with pytest.raises(ReservationEnded):
        await billing.commit(account, reservation, "linking", 1)


async def test_another_accounts_reservation_is_unknown(billing):
    owner = await billing.open(credits=100)
    intruder = await billing.open(credits=100)
    reservation = uuid.uuid4()
    await billing.reserve(owner, ("linking", 1), reservation=reservation)
    with pytest.raises(UnknownReservation):
        await billing.commit(intruder, reservation, "linking", 1)
    with pytest.raises(UnknownReservation):
        await billing.release(intruder, reservation)


async def test_reservations_draw_from_the_soonest_expiring_grant_and_lapse_with_it(billing):
    account = await billing.open()
    await billing.grant(account, 50)  # paid, never expires
    promo = await billing.grant(account, 30, GrantKind.PROMO, expires_in=60)
    reservation = uuid.uuid4()
    await billing.reserve(account, ("image_generation", 4), reservation=reservation)  # 20
    async with billing.engine.connect() as conn:
        holds = dict(
            (
                await conn.execute(
                    sa.text(
                        "SELECT grant_id, amount FROM reservation_holds WHERE reservation_id = :r"
                    ),
                    {"r": reservation},
                )
            ).all()
        )
    assert holds == {promo.grant.grant_id: 20}
    billing.clock.advance(120)  # the promo lapses while its credits are held
    released = await billing.release(account, reservation)
    assert released.payload["released_credits"] == 20
    assert await billing.balance(account) == (50, 0), "held promo credits lapse on release"
    assert await billing.violations() == {}


async def test_a_new_plan_grant_replaces_the_previous_period(billing):
    account = await billing.open()
    await billing.grant(account, 100, GrantKind.PLAN, expires_in=3600)
    await billing.reserve(account, ("clustering", 3))  # 30 held from the plan
    await billing.grant(account, 200, GrantKind.PLAN, expires_in=7200)
    assert await billing.balance(account) == (200, 30)
    assert await billing.violations() == {}


async def test_the_ledger_refuses_edits(billing, engine):
    account = await billing.open(credits=10)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("UPDATE ledger_entries SET amount = amount + 1 WHERE account_id = :a"),
                {"a": account},
            )
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("DELETE FROM ledger_entries WHERE account_id = :a"), {"a": account}
            )


async def test_an_unbalanced_transaction_is_refused_at_commit(billing, engine):
    account = await billing.open(credits=10)
    with pytest.raises(sa.exc.DBAPIError, match="does not sum to zero"):
        async with engine.begin() as conn:
            tx = uuid.uuid4()
            await conn.execute(
                sa.text(
                    "INSERT INTO ledger_transactions (transaction_id, account_id, kind, reference) "
                    "VALUES (:t, :a, 'grant', 'x')"
                ),
                {"t": tx, "a": account},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO ledger_entries (transaction_id, account_id, book, amount) "
                    "VALUES (:t, :a, 'available', 5)"
                ),
                {"t": tx, "a": account},
            )
