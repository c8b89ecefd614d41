"""Random grant / reserve / commit / release / expire / price-change sequences keep every invariant.

A Hypothesis state machine drives the real use cases on the real database and audits the whole
ledger after every step (entries sum to zero, cached balances equal recomputed ones, available >= 0,
captured <= reserved, every ended reservation ended exactly once).
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
from igny8.db import create_engine

pytestmark = pytest.mark.integration

operations = st.sampled_from(OPERATIONS)
# Mostly small counts (so holds succeed often), sometimes article-sized word counts.
quantities = st.integers(0, 12) | st.sampled_from([0, 99, 101, 450, 1200])


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

        @invariant()
        def books_balance(self) -> None:
            if hasattr(self, "loop"):
                assert self.run(self.billing.violations()) == {}

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
