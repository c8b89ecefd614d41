"""Subscriptions on a controlled clock against stripe-mock: three renewals give three invoices and
three plan grants, each replacing the last; a failed renewal charge walks the dunning schedule to
uncollectible, past due, then cancelled; running the job twice issues nothing twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from billing_driver import Billing, FixedClock
from payments_driver import (
    WEBHOOK_SECRET,
    as_admin,
    as_user,
    balance,
    billing_app,
    deliver,
    event,
    intent_failed,
    intent_succeeded,
    open_account,
)

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.adapters.stripe_payment_gateway import StripePaymentGateway
from billing.app.subscriptions import renew_subscriptions
from billing.entrypoints.timers import sweep_once
from billing.ports import PaymentsPolicy, Policy

pytestmark = pytest.mark.integration


class Renewals:
    """The renewal job's use case, run by hand on the test's clock."""

    def __init__(self, engine, stripe_api: str, clock: FixedClock) -> None:
        self.billing = Billing(engine, clock)
        self.gateway = StripePaymentGateway("sk_test_renewals", WEBHOOK_SECRET, api_base=stripe_api)
        self.clock = clock

    async def run(self, account: uuid.UUID) -> int:
        """One pass; how many charges it made for `account` (other tests' subscriptions share
        the database and may be due too)."""
        before = await self.attempts(account)
        await renew_subscriptions(
            lambda: BillingUnitOfWork(self.billing.sessions),
            self.gateway, self.clock, Policy(), PaymentsPolicy(),
        )  # fmt: skip
        return await self.attempts(account) - before

    async def attempts(self, account: uuid.UUID) -> int:
        async with self.billing.engine.connect() as conn:
            found = await conn.execute(
                sa.text("SELECT count(*) FROM payments WHERE account_id = :a"), {"a": account}
            )
            return int(found.scalar())


async def subscribe(client: httpx.AsyncClient, credits: int = 500) -> tuple[uuid.UUID, str, dict]:
    account = await open_account(client)
    code = f"plan-{uuid.uuid4().hex[:6]}"
    plan = await client.put(
        "/plans",
        json={"code": code, "name": "Pro", "interval": "month", "price": 1900, "currency": "eur",
              "credits": credits},
        headers=as_admin(uuid.uuid4()),
    )  # fmt: skip
    assert plan.status_code == 200, plan.text
    started = await client.post(
        f"/accounts/{account}/subscription", json={"plan": code}, headers=as_user(account)
    )
    assert started.status_code == 201, started.text
    return account, code, started.json()


async def invoices(client: httpx.AsyncClient, account: uuid.UUID) -> list[dict]:
    answer = await client.get(f"/accounts/{account}/invoices", headers=as_user(account))
    return sorted(answer.json()["items"], key=lambda i: i["number"])


async def pay_latest(client: httpx.AsyncClient, account: uuid.UUID, outcome: str) -> dict:
    """Stripe reports the outcome of the latest invoice's open attempt by webhook."""
    latest = (await invoices(client, account))[-1]
    found = (
        await client.get(
            f"/accounts/{account}/invoices/{latest['invoice_id']}", headers=as_user(account)
        )
    ).json()
    attempt = found["payments"][0]
    pid, iid = attempt["payment_id"], latest["invoice_id"]
    intent = f"pi_{pid[:8]}"
    obj = (
        intent_succeeded(pid, iid, intent, latest["total"])
        if outcome == "succeeded"
        else intent_failed(pid, iid, intent)
    )
    answer = await deliver(
        client,
        event(f"payment_intent.{'succeeded' if outcome == 'succeeded' else 'payment_failed'}", obj),
    )
    assert answer.status_code == 200, answer.text
    return attempt


async def plan_grants(engine, account: uuid.UUID) -> list[tuple[int, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT credits, swept FROM grants WHERE account_id = :a AND kind = 'plan' "
                "ORDER BY created_at"
            ),
            {"a": account},
        )
        return [(r.credits, r.swept) for r in rows]


async def test_three_periods_give_three_invoices_and_three_plan_grants_each_replacing_the_last(
    billing_db, engine, stripe_mock
):
    clock = FixedClock(datetime(2026, 1, 31, 9, 0, tzinfo=UTC))
    renewals = Renewals(engine, stripe_mock, clock)
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account, _, started = await subscribe(client)
        assert started["current_period_end"].startswith("2026-02-28")  # the 31st → month's end
        assert started["invoice"]["kind"] == "subscription"
        pay = await client.post(
            f"/accounts/{account}/invoices/{started['invoice']['invoice_id']}/pay",
            json={"method": "checkout"}, headers=as_user(account),
        )  # fmt: skip
        assert pay.status_code == 200, pay.text
        await pay_latest(client, account, "succeeded")  # saves the card for renewals
        assert await balance(client, account) == 500
        held = await renewals.billing.reserve(account, ("clustering", 10))
        await renewals.billing.commit(
            account, uuid.UUID(held.payload["reservation_id"]), "clustering", 10
        )
        assert await balance(client, account) == 400

        for period in (2, 3):
            assert await renewals.run(account) == 0  # nothing due yet
            clock.advance(timedelta(days=31).total_seconds())
            assert await renewals.run(account) == 1  # a PaymentIntent off-session at stripe-mock
            assert await renewals.run(account) == 0  # running it again issues nothing twice
            issued = await invoices(client, account)
            assert len(issued) == period
            assert issued[-1]["status"] == "open"
            assert await balance(client, account) == (
                400 if period == 2 else 500
            )  # cached until swept
            await pay_latest(client, account, "succeeded")
            assert await balance(client, account) == 500  # the new grant replaced the last one

        issued = await invoices(client, account)
        assert [i["status"] for i in issued] == ["paid", "paid", "paid"]
        assert [i["period_start"][:10] for i in issued] == [
            "2026-01-31",
            "2026-02-28",
            "2026-03-28",
        ]
        assert len({i["number"] for i in issued}) == 3
        assert await plan_grants(engine, account) == [(500, True), (500, True), (500, False)]
        assert (await renewals.billing.violations()) == {}


async def test_a_failed_renewal_walks_the_dunning_schedule_to_cancellation(
    billing_db, engine, stripe_mock
):
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    renewals = Renewals(engine, stripe_mock, clock)
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account, _, started = await subscribe(client)
        await client.post(
            f"/accounts/{account}/invoices/{started['invoice']['invoice_id']}/pay",
            json={"method": "checkout"}, headers=as_user(account),
        )  # fmt: skip
        await pay_latest(client, account, "succeeded")
        clock.at = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
        assert await renewals.run(account) == 1
        await pay_latest(client, account, "failed")

        async def state() -> dict:
            return (
                await client.get(f"/accounts/{account}/subscription", headers=as_user(account))
            ).json()

        assert (await state())["next_retry_at"].startswith("2026-04-02")
        for days, next_retry in ((1, "2026-04-05"), (3, "2026-04-10")):
            clock.advance(timedelta(days=days).total_seconds())
            assert await renewals.run(account) == 1
            assert await renewals.run(account) == 0
            await pay_latest(client, account, "failed")
            assert (await state())["next_retry_at"].startswith(next_retry)
            assert (await state())["status"] == "active"
        clock.advance(timedelta(days=5).total_seconds())
        assert await renewals.run(account) == 1
        await pay_latest(client, account, "failed")
        assert (await state())["status"] == "past_due"
        issued = await invoices(client, account)
        assert [i["status"] for i in issued] == ["paid", "uncollectible"]
        found = (
            await client.get(
                f"/accounts/{account}/invoices/{issued[-1]['invoice_id']}", headers=as_user(account)
            )
        ).json()
        assert [p["attempt"] for p in found["payments"]] == [4, 3, 2, 1]
        assert {p["status"] for p in found["payments"]} == {"failed"}
        await sweep_once(renewals.billing.sessions, clock, Policy())  # last period's credits lapse
        assert await balance(client, account) == 0  # and no plan grant until paid
        assert len(await plan_grants(engine, account)) == 1

        clock.advance(timedelta(days=7).total_seconds())
        assert await renewals.run(account) == 0
        gone = await client.get(f"/accounts/{account}/subscription", headers=as_user(account))
        assert gone.status_code == 404  # cancelled: no live subscription left


async def test_plan_changes_take_effect_next_period_and_cancel_ends_at_period_end(
    billing_db, engine, stripe_mock
):
    clock = FixedClock(datetime(2026, 5, 10, 8, 0, tzinfo=UTC))
    renewals = Renewals(engine, stripe_mock, clock)
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account, _, _ = await subscribe(client, credits=500)
        bigger = f"plan-{uuid.uuid4().hex[:6]}"
        await client.put(
            "/plans",
            json={"code": bigger, "name": "Agency", "interval": "month", "price": 9900,
                  "currency": "eur", "credits": 5000},
            headers=as_admin(uuid.uuid4()),
        )  # fmt: skip
        changed = await client.put(
            f"/accounts/{account}/subscription", json={"plan": bigger}, headers=as_user(account)
        )
        assert changed.status_code == 200 and changed.json()["next_plan"] == bigger
        twice = await client.post(
            f"/accounts/{account}/subscription", json={"plan": bigger}, headers=as_user(account)
        )
        assert twice.status_code == 409
        unknown = await client.put(
            f"/accounts/{account}/subscription", json={"plan": "nope"}, headers=as_user(account)
        )
        assert unknown.status_code == 404
        clock.advance(timedelta(days=31).total_seconds())
        await renewals.run(account)
        issued = await invoices(client, account)
        assert [i["total"] for i in issued] == [1900, 9900]
        cancelled = await client.delete(
            f"/accounts/{account}/subscription", headers=as_user(account)
        )
        assert cancelled.json()["cancel_at_period_end"] is True
        clock.advance(timedelta(days=31).total_seconds())
        await renewals.run(account)
        assert len(await invoices(client, account)) == 2
        stranger = uuid.uuid4()
        hidden = await client.get(f"/accounts/{account}/subscription", headers=as_user(stranger))
        assert hidden.status_code == 404


async def test_periods_missed_while_billing_was_down_are_caught_up_once(
    billing_db, engine, stripe_mock
):
    clock = FixedClock(datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
    renewals = Renewals(engine, stripe_mock, clock)
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account, _, _ = await subscribe(client)
        clock.at = datetime(2026, 9, 15, 8, 0, tzinfo=UTC)  # three period ends went by unseen
        first, second = await renewals.run(account), await renewals.run(account)
        issued = await invoices(client, account)
        assert len(issued) == 2 and (first, second) == (1, 0)
        assert issued[-1]["period_start"].startswith("2026-09-01")
        assert issued[-1]["period_end"].startswith("2026-10-01")


async def test_a_withdrawn_plan_still_renews_and_a_free_plan_is_paid_without_stripe(
    billing_db, engine, stripe_mock
):
    clock = FixedClock(datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
    renewals = Renewals(engine, stripe_mock, clock)
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account = await open_account(client)
        code = f"free-{uuid.uuid4().hex[:6]}"
        offer = {"code": code, "name": "Starter", "interval": "month", "price": 0,
                 "currency": "eur", "credits": 50}  # fmt: skip
        await client.put("/plans", json=offer, headers=as_admin(uuid.uuid4()))
        started = await client.post(
            f"/accounts/{account}/subscription", json={"plan": code}, headers=as_user(account)
        )
        paid = await client.post(
            f"/accounts/{account}/invoices/{started.json()['invoice']['invoice_id']}/pay",
            json={"method": "checkout"}, headers=as_user(account),
        )  # fmt: skip
        assert paid.json()["status"] == "succeeded"  # nothing to collect: no Stripe call
        assert await balance(client, account) == 50
        withdrawn = await client.put(
            "/plans", json={**offer, "active": False}, headers=as_admin(uuid.uuid4())
        )
        assert withdrawn.json()["version"] == 2
        newcomer = await open_account(client)
        refused = await client.post(
            f"/accounts/{newcomer}/subscription", json={"plan": code}, headers=as_user(newcomer)
        )
        assert refused.status_code == 404
        clock.advance(timedelta(days=31).total_seconds())
        assert await renewals.run(account) == 1
        issued = await invoices(client, account)
        assert [i["status"] for i in issued] == ["paid", "paid"]
        assert await balance(client, account) == 50
