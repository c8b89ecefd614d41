"""Random grant / reserve / commit / release / expire / price-change sequences keep every invariant.

A Hypothesis state machine drives the real use cases on the real database and audits the whole
ledger after every step (entries sum to zero, cached balances equal recomputed ones, available >= 0,
captured <= reserved, every ended reservation ended exactly once, the low-balance alert armed
exactly when available is at or above the threshold).

Amounts are biased toward the edges, where off-by-one errors live: reserves of exactly the
spendable credits, one less or one more; reserves leaving available one credit either side of the
low-balance threshold; captures of exactly the remaining hold, one less or one more; the clock
set to the very instant (±1 µs) a grant or a hold expires.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import sqlalchemy as sa
from billing_driver import Billing, FixedClock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.grant_credits import expire_grants
from billing.app.release_credits import expire_reservation
from billing.domain.errors import BillingError
from billing.domain.model import GrantKind
from billing.domain.pricing import DEFAULT_PRICES, OPERATIONS, Price, Unit
from billing.ports import Policy
from igny8.db import create_engine

pytestmark = pytest.mark.integration

operations = st.sampled_from(OPERATIONS)
# Mostly small counts (so holds succeed often), sometimes article-sized word counts around the
# unit boundaries (100 and 200 words).
quantities = st.integers(0, 12) | st.sampled_from([0, 99, 100, 101, 199, 200, 201, 450, 1200])
edge = st.sampled_from([-1, 0, 1])
THRESHOLD = Policy().low_balance_threshold


def one_credit_operation(prices: dict[str, dict], credits: int) -> tuple[str, int] | None:
    """An operation and quantity costing exactly `credits` under these (wire-shaped) prices."""
    for operation, price in sorted(prices.items()):
        per_unit, minimum = price["credits_per_unit"], price["minimum_credits"]
        if per_unit == 1 and minimum <= credits:
            size = {"per_100_words": 100, "per_200_words": 200}.get(price["unit"], 1)
            return operation, credits * size
    return None


def ledger_machine(database_url: str) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.loop = asyncio.new_event_loop()
            self.started_at = datetime.now(UTC)
            self.engine = create_engine(database_url, 5)
            self.billing = Billing(self.engine, FixedClock())
            self.accounts = [self.run(self.billing.open(credits=500)) for _ in range(2)]
            self.reservations: list[tuple[uuid.UUID, uuid.UUID, dict, dict]] = []
            self.commits: list[tuple[uuid.UUID, uuid.UUID, str, int, uuid.UUID, dict]] = []

        def run(self, coro):  # type: ignore[no-untyped-def]
            return self.loop.run_until_complete(coro)

        def teardown(self) -> None:
            if hasattr(self, "loop"):
                self.run(self._forget_price_changes())
                self.run(self.engine.dispose())
                self.loop.close()

        @rule(
            data=st.data(),
            credits=st.integers(20, 600),
            kind=st.sampled_from(list(GrantKind)),
            expires_in=st.integers(30, 4000),
        )
        def grant(self, data, credits, kind, expires_in) -> None:  # type: ignore[no-untyped-def]
            account = data.draw(st.sampled_from(self.accounts))
            self.run(
                self.billing.grant(
                    account, credits, kind, None if kind is GrantKind.PAID else expires_in
                )
            )

        @rule(
            data=st.data(),
            items=st.lists(st.tuples(operations, quantities), min_size=1, max_size=3),
            ttl=st.integers(10, 3000),
        )
        def reserve(self, data, items, ttl) -> None:  # type: ignore[no-untyped-def]
            account = data.draw(st.sampled_from(self.accounts))
            reservation = uuid.uuid4()
            outcome = self.run(
                self.billing.reserve(account, *items, reservation=reservation, ttl=ttl)
            )
            if outcome.topic == "credit.reserved":
                reserved = {op: q for op, q in items}
                self.reservations.append(
                    (account, reservation, outcome.payload["prices"], reserved)
                )
            assert (
                self.run(self.billing.reserve(account, *items, reservation=reservation, ttl=ttl))
                == outcome
            ), "a retry must get the original outcome"

        @precondition(lambda self: self.reservations)
        @rule(data=st.data())
        def commit(self, data) -> None:  # type: ignore[no-untyped-def]
            account, reservation, prices, reserved = data.draw(st.sampled_from(self.reservations))
            operation = data.draw(st.sampled_from(sorted(prices)))
            quantity = data.draw(st.integers(0, reserved[operation] + 1))
            commit_id = uuid.uuid4()
            try:
                outcome = self.run(
                    self.billing.commit(account, reservation, operation, quantity, commit_id)
                )
            except BillingError as error:
                assert error.reason in ("hold_exceeded", "reservation_ended")
                return
            locked = prices[operation]
            price = Price(
                operation,
                Unit(locked["unit"]),
                locked["credits_per_unit"],
                locked["minimum_credits"],
            )
            assert outcome.payload["credits"] == price.credits_for(quantity), "priced as reserved"
            self.commits.append(
                (account, reservation, operation, quantity, commit_id, outcome.payload)
            )

        @precondition(lambda self: self.commits)
        @rule(data=st.data())
        def retry_commit(self, data) -> None:  # type: ignore[no-untyped-def]
            account, reservation, operation, quantity, commit_id, payload = data.draw(
                st.sampled_from(self.commits)
            )
            again = self.run(
                self.billing.commit(account, reservation, operation, quantity, commit_id)
            )
            assert again.payload == payload

        @precondition(lambda self: self.reservations)
        @rule(data=st.data())
        def release(self, data) -> None:  # type: ignore[no-untyped-def]
            account, reservation, _, _ = data.draw(st.sampled_from(self.reservations))
            try:
                self.run(self.billing.release(account, reservation))
            except BillingError as error:
                assert error.reason == "reservation_ended"

        @rule(seconds=st.integers(1, 3000))
        def time_passes_and_sweepers_run(self, seconds) -> None:  # type: ignore[no-untyped-def]
            self.billing.clock.advance(seconds)
            self.run(self._sweep())

        async def _sweep(self) -> None:
            billing = self.billing
            now = billing.clock.now()
            async with BillingUnitOfWork(billing.sessions) as uow:
                due = await uow.reservations.due_for_expiry(now, 1000)
                lapsed = await uow.ledger.accounts_with_lapsed_grants(now, 1000)
            mine = set(self.accounts)
            for account, reservation in due:
                if account in mine:
                    await billing.run(partial(_expire_reservation, account, reservation), None)
            for account in lapsed:
                if account in mine:
                    await billing.run(partial(_expire_grants, account), None)

        async def _forget_price_changes(self) -> None:
            # Prices are platform-wide: undo this example's versions so examples stay independent.
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.text("DELETE FROM cost_table WHERE created_at > :t"), {"t": self.started_at}
                )

        @rule(operation=operations, per_unit=st.integers(0, 9), minimum=st.integers(0, 20))
        def price_changes(self, operation, per_unit, minimum) -> None:  # type: ignore[no-untyped-def]
            default = next(p for p in DEFAULT_PRICES if p.operation == operation)
            new = Price(operation, default.unit, per_unit, minimum)

            async def change() -> None:
                async with BillingUnitOfWork(self.billing.sessions) as uow:
                    await uow.prices.add_version(
                        [new], self.billing.clock.now() - timedelta(microseconds=1)
                    )
                    await uow.commit()

            self.run(change())

        # -- rules at the edges -------------------------------------------------------------

        async def _current_prices(self) -> dict[str, dict]:
            async with BillingUnitOfWork(self.billing.sessions) as uow:
                prices = await uow.prices.prices_at(self.billing.clock.now())
            return {
                p.operation: {
                    "unit": p.unit.value,
                    "credits_per_unit": p.credits_per_unit,
                    "minimum_credits": p.minimum_credits,
                }
                for p in prices.values()
            }

        def _reserve_exactly(self, account: uuid.UUID, credits: int):  # type: ignore[no-untyped-def]
            item = one_credit_operation(self.run(self._current_prices()), credits)
            if item is None:  # the price changes left no operation that costs 1 per unit
                return None
            reservation = uuid.uuid4()
            outcome = self.run(self.billing.reserve(account, item, reservation=reservation))
            if outcome.topic == "credit.reserved":
                self.reservations.append(
                    (account, reservation, outcome.payload["prices"], {item[0]: item[1]})
                )
            return outcome

        @rule(data=st.data(), delta=edge)
        def reserve_at_the_edge_of_available(self, data, delta) -> None:  # type: ignore[no-untyped-def]
            account = data.draw(st.sampled_from(self.accounts))
            spendable = self.run(self.billing.spendable(account))
            if spendable + delta <= 0:
                return
            outcome = self._reserve_exactly(account, spendable + delta)
            if outcome is None:
                return
            if delta <= 0:
                assert outcome.topic == "credit.reserved", outcome
                assert outcome.payload["available_after"] == -delta
            else:
                assert outcome.topic == "credit.rejected"
                assert outcome.payload["reason"] == "insufficient_credits"
                assert (outcome.payload["required"], outcome.payload["available"]) == (
                    spendable + 1,
                    spendable,
                )

        @rule(data=st.data(), delta=edge)
        def reserve_down_to_the_threshold(self, data, delta) -> None:  # type: ignore[no-untyped-def]
            account = data.draw(st.sampled_from(self.accounts))
            spendable = self.run(self.billing.spendable(account))
            credits = spendable - (THRESHOLD + delta)  # leaves threshold-1, threshold or +1
            if credits <= 0:
                return
            before = self.run(self.billing.alerts(account))
            armed = not self.run(self.billing.alerted(account))
            if self._reserve_exactly(account, credits) is None:
                return
            crossed = self.run(self.billing.alerts(account)) - before
            # Fires when falling below (threshold - 1, not threshold itself), once per crossing.
            assert crossed == (1 if delta == -1 and armed else 0)

        @precondition(lambda self: self.reservations)
        @rule(data=st.data(), delta=edge)
        def commit_at_the_edge_of_the_hold(self, data, delta) -> None:  # type: ignore[no-untyped-def]
            account, reservation, prices, _ = data.draw(st.sampled_from(self.reservations))
            status, remaining = self.run(self.billing.hold(reservation))
            if remaining + delta <= 0:
                return
            item = one_credit_operation(prices, remaining + delta)
            if item is None:
                return
            try:
                outcome = self.run(self.billing.commit(account, reservation, *item))
            except BillingError as error:
                expected = "reservation_ended" if status != "active" else "hold_exceeded"
                assert error.reason == expected
                assert status != "active" or delta == 1
                return
            assert status == "active" and delta <= 0
            assert outcome.payload["remaining_hold"] == -delta

        @rule(data=st.data(), offset_us=edge)
        def clock_to_the_instant_of_an_expiry(self, data, offset_us) -> None:  # type: ignore[no-untyped-def]
            expiries = self.run(self.billing.expiries(self.accounts))
            now = self.billing.clock.now()
            later = [e for e in expiries if e + timedelta(microseconds=offset_us) > now]
            if later:
                when = data.draw(st.sampled_from(later))
                self.billing.clock.at = when + timedelta(microseconds=offset_us)

        @invariant()
        def books_balance(self) -> None:
            if hasattr(self, "loop"):
                assert self.run(self.billing.violations()) == {}

        @invariant()
        def alert_armed_exactly_at_or_above_the_threshold(self) -> None:
            if hasattr(self, "loop"):
                for account in self.accounts:
                    available, _ = self.run(self.billing.balance(account))
                    alerted = self.run(self.billing.alerted(account))
                    assert alerted == (available < THRESHOLD)

    return LedgerMachine


async def _expire_reservation(account, reservation, _cmd, uow, clock, policy):  # type: ignore[no-untyped-def]
    return await expire_reservation(account, reservation, uow, clock, policy)


async def _expire_grants(account, _cmd, uow, clock, policy):  # type: ignore[no-untyped-def]
    return await expire_grants(account, uow, clock, policy)


def test_random_ledger_histories_keep_every_invariant(billing_db):
    machine = ledger_machine(billing_db)
    machine.TestCase.settings = settings(
        max_examples=40,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    machine.TestCase().runTest()
