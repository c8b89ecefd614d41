"""Stripe payments against stripe-mock plus webhooks signed with the endpoint secret: a package
bought and paid grants its credits exactly once, whatever the webhooks do; forged or stale
signatures change nothing; a refund makes a credit note and takes back unspent credits only."""

from __future__ import annotations

import asyncio
import random
import uuid

import httpx
import pytest
import sqlalchemy as sa
from billing_driver import Billing, FixedClock
from payments_driver import (
    as_admin,
    as_user,
    balance,
    billing_app,
    buy_and_start_checkout,
    charge_refunded,
    checkout_completed,
    deliver,
    event,
    intent_failed,
    intent_succeeded,
    open_account,
    outbox_types,
    pdf_text,
    put_package,
    sign,
)

from igny8.testing import free_port

pytestmark = pytest.mark.integration


async def invoice_of(client: httpx.AsyncClient, account: uuid.UUID, invoice_id: str) -> dict:
    answer = await client.get(
        f"/accounts/{account}/invoices/{invoice_id}", headers=as_user(account)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_package_paid_through_checkout_grants_its_credits_once(
    billing_db, engine, stripe_mock
):
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
        assert payment["status"] == "processing"
        assert payment["checkout_url"]  # the console redirects the customer there
        again = await client.post(
            f"/accounts/{account}/invoices/{invoice['invoice_id']}/pay",
            json={"method": "checkout"}, headers=as_user(account),
        )  # fmt: skip
        assert again.json()["payment_id"] == payment["payment_id"]  # same attempt, same key
        customer = await stripe_customer(engine, account)
        assert customer is not None and customer.startswith("cus_")
        assert await balance(client, account) == 0

        paid = event(
            "checkout.session.completed",
            checkout_completed(payment["payment_id"], invoice["invoice_id"], "pi_test_one"),
        )
        answer = await deliver(client, paid)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "succeeded"
        assert await balance(client, account) == 1000
        found = await invoice_of(client, account, invoice["invoice_id"])
        assert found["status"] == "paid"
        assert [p["status"] for p in found["payments"]] == ["succeeded"]
        assert (await deliver(client, paid)).json()["outcome"] == "duplicate"
        assert await balance(client, account) == 1000
        topics = await outbox_types(engine, account)
        assert topics.count("credit.granted") == 1
        assert topics.count("invoice.paid") == 1 and topics.count("payment.succeeded") == 1

        # A second purchase, paid with a PaymentIntent: same Stripe customer, a client secret.
        code = f"pack-{uuid.uuid4().hex[:6]}"
        await put_package(client, code, price=900, credits=100)
        second = await client.post(
            f"/accounts/{account}/package-purchases", json={"package": code},
            headers=as_user(account),
        )  # fmt: skip
        intent = await client.post(
            f"/accounts/{account}/invoices/{second.json()['invoice_id']}/pay",
            json={"method": "payment_intent"}, headers=as_user(account),
        )  # fmt: skip
        assert intent.status_code == 200, intent.text
        assert intent.json()["client_secret"] and intent.json()["status"] == "processing"
        assert await stripe_customer(engine, account) == customer
        paid_invoice = await client.post(
            f"/accounts/{account}/invoices/{invoice['invoice_id']}/pay",
            json={"method": "checkout"}, headers=as_user(account),
        )  # fmt: skip
        assert paid_invoice.status_code == 409  # a paid invoice is not paid again


async def stripe_customer(engine, account: uuid.UUID) -> str | None:
    async with engine.connect() as conn:
        return (
            await conn.execute(
                sa.text("SELECT stripe_customer_id FROM billing_profiles WHERE account_id = :a"),
                {"a": account},
            )
        ).scalar()


async def test_webhooks_repeated_reordered_and_mixed_with_a_failure_still_grant_once(
    billing_db, engine, stripe_mock
):
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
        pid, iid = payment["payment_id"], invoice["invoice_id"]
        events = [
            event("payment_intent.succeeded", intent_succeeded(pid, iid, "pi_test_two", 4900)),
            event("checkout.session.completed", checkout_completed(pid, iid, "pi_test_two")),
            # A failure Stripe reports late (an earlier card try) must not undo the success.
            event("payment_intent.payment_failed", intent_failed(pid, iid, "pi_test_two")),
        ]
        deliveries = events * 5
        random.Random(3).shuffle(deliveries)
        # A delivery that fails (bad signature, as a truncated retry would) sits in between.
        first = await deliver(client, deliveries[0], signature="t=1,v1=deadbeef")
        assert first.status_code == 400
        answers = await asyncio.gather(*(deliver(client, d) for d in deliveries))
        assert {a.status_code for a in answers} == {200}
        outcomes = [a.json()["outcome"] for a in answers]
        assert outcomes.count("duplicate") == 12
        assert await balance(client, account) == 1000
        found = await invoice_of(client, account, iid)
        assert found["status"] == "paid"
        assert [p["status"] for p in found["payments"]] == ["succeeded"]
        topics = await outbox_types(engine, account)
        assert topics.count("credit.granted") == 1
        # Processed concurrently, the failure may come first (then recorded once and overtaken by
        # the success) or after (then ignored): never twice, never undoing the success.
        assert topics.count("payment.failed") <= 1
        assert topics.count("payment.succeeded") == 1

        # Deterministically late: a failure after the success changes nothing.
        late = event("payment_intent.payment_failed", intent_failed(pid, iid, "pi_test_two"))
        assert (await deliver(client, late)).json()["outcome"] == "stale"
        found = await invoice_of(client, account, iid)
        assert [p["status"] for p in found["payments"]] == ["succeeded"]
        assert await balance(client, account) == 1000
        assert (await Billing(engine).violations()) == {}


async def test_forged_stale_or_missing_signatures_are_refused_and_change_nothing(
    billing_db, engine, stripe_mock
):
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
        payload = event(
            "checkout.session.completed",
            checkout_completed(payment["payment_id"], invoice["invoice_id"], "pi_test_three"),
            event_id=f"evt_{uuid.uuid4().hex[:20]}",
        )
        import time

        refused = [
            await deliver(client, payload, signature=sign(payload, secret="whsec_forged_xxxxxx")),
            await deliver(client, payload, signature=sign(payload, at=int(time.time()) - 600)),
            await deliver(client, payload, signature=""),
            await deliver(client, payload.replace(b"paid", b"PAID"), signature=sign(payload)),
            await deliver(client, b"not json", signature=sign(b"not json")),
        ]
        assert [r.status_code for r in refused] == [400] * 5
        assert all(r.json()["error"]["code"] == "invalid_signature" for r in refused)
        assert await balance(client, account) == 0
        assert (await invoice_of(client, account, invoice["invoice_id"]))["status"] == "open"
        async with engine.connect() as conn:
            seen = await conn.execute(
                sa.text("SELECT count(*) FROM stripe_events WHERE event_id = :e"),
                {"e": payload.split(b'"id": "')[1].split(b'"')[0].decode()},
            )
            assert seen.scalar() == 0
        assert (await deliver(client, payload)).json()["outcome"] == "succeeded"
        assert await balance(client, account) == 1000


async def test_refunds_make_credit_notes_and_take_back_only_unspent_credits(
    billing_db, engine, stripe_mock
):
    clock = FixedClock()
    billing = Billing(engine, clock)
    async with billing_app(billing_db, engine, stripe_mock, clock) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
        pid, iid = payment["payment_id"], invoice["invoice_id"]
        await deliver(
            client, event("payment_intent.succeeded", intent_succeeded(pid, iid, "pi_r", 4900))
        )
        assert await balance(client, account) == 1000
        # 300 credits are spent before the refunds.
        held = await billing.reserve(account, ("clustering", 30))
        reservation = uuid.UUID(held.payload["reservation_id"])
        await billing.commit(account, reservation, "clustering", 30)
        assert await balance(client, account) == 700

        refused = await client.post(
            f"/accounts/{account}/invoices/{iid}/refund", json={}, headers=as_user(account)
        )
        assert refused.status_code == 403
        asked = await client.post(
            f"/accounts/{account}/invoices/{iid}/refund", json={"amount": 2450},
            headers=as_admin(account),
        )  # fmt: skip
        assert asked.status_code == 200, asked.text  # stripe-mock accepted the refund's shape
        assert asked.json()["refund_id"].startswith("re_")

        half = event("charge.refunded", charge_refunded("pi_r", 4900, 2450))
        assert (await deliver(client, half)).json()["outcome"] == "refunded"
        assert (await deliver(client, half)).json()["outcome"] == "duplicate"
        assert await balance(client, account) == 200  # 500 of the 1,000 taken back
        full = event("charge.refunded", charge_refunded("pi_r", 4900, 4900))
        assert (await deliver(client, full)).json()["outcome"] == "refunded"
        assert await balance(client, account) == 0  # never below zero: 300 stay spent

        notes = (
            await client.get(f"/accounts/{account}/credit-notes", headers=as_user(account))
        ).json()["items"]
        notes.sort(key=lambda n: n["number"])
        assert [
            (n["amount"], n["credits_taken_back"], n["credits_already_spent"]) for n in notes
        ] == [
            (2450, 500, 0),
            (2450, 200, 300),
        ]
        assert notes[0]["number"].split("-")[1:] == ["CN", str(clock.now().year), "000001"]
        found = await invoice_of(client, account, iid)
        assert found["status"] == "paid"  # corrected by credit notes, never voided
        assert found["payments"][0]["status"] == "refunded"
        pdf = await client.get(
            f"/accounts/{account}/invoices/{iid}/credit-notes/{notes[1]['credit_note_id']}/pdf",
            headers=as_user(account),
        )
        assert pdf.status_code == 200
        text = pdf_text(pdf.content)
        assert notes[1]["number"] in text and invoice["number"] in text
        assert "300 credits had been spent and stay spent" in text
        # The credits taken back are ledger movements of their own kind, filterable.
        revoked = await client.get(
            f"/accounts/{account}/transactions", params={"kind": "revoke"}, headers=as_user(account)
        )
        assert revoked.status_code == 200, revoked.text
        assert [t["kind"] for t in revoked.json()["items"]] == ["revoke", "revoke"]
        # Document ids are not interchangeable: a note is not an invoice's PDF, nor another
        # invoice's note.
        note_id = notes[1]["credit_note_id"]
        as_invoice = await client.get(
            f"/accounts/{account}/invoices/{note_id}/pdf", headers=as_user(account)
        )
        assert as_invoice.status_code == 404
        other = await client.post(
            f"/accounts/{account}/invoices",
            json={
                "currency": "eur",
                "lines": [{"description": "x", "quantity": 1, "unit_amount": 1}],
            },
            headers=as_admin(account),
        )
        assert other.status_code == 201, other.text
        elsewhere = await client.get(
            f"/accounts/{account}/invoices/{other.json()['invoice_id']}/credit-notes/{note_id}/pdf",
            headers=as_user(account),
        )
        assert elsewhere.status_code == 404
        void = await client.post(
            f"/accounts/{account}/invoices/{iid}/void", headers=as_admin(account)
        )
        assert void.status_code == 409
        topics = await outbox_types(engine, account)
        assert topics.count("payment.refunded") == 2
        assert (await billing.violations()) == {}


async def test_a_refund_reported_before_the_payment_waits_for_it_and_then_applies_once(
    billing_db, engine, stripe_mock
):
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
        pid, iid = payment["payment_id"], invoice["invoice_id"]
        intent = f"pi_{uuid.uuid4().hex[:10]}"
        refund = event("charge.refunded", charge_refunded(intent, 4900, 4900))
        early = await deliver(client, refund)
        assert early.status_code == 409  # not recorded: Stripe delivers it again later
        assert await balance(client, account) == 0
        succeeded = event("payment_intent.succeeded", intent_succeeded(pid, iid, intent, 4900))
        assert (await deliver(client, succeeded)).json()["outcome"] == "succeeded"
        assert await balance(client, account) == 1000
        assert (await deliver(client, refund)).json()["outcome"] == "refunded"
        assert (await deliver(client, refund)).json()["outcome"] == "duplicate"
        assert await balance(client, account) == 0
        notes = (
            await client.get(f"/accounts/{account}/credit-notes", headers=as_user(account))
        ).json()
        assert [(n["amount"], n["credits_taken_back"]) for n in notes["items"]] == [(4900, 1000)]

        # A refund whose charge carries our payment id settles a payment not yet seen as paid.
        account, invoice, payment = await buy_and_start_checkout(client)
        charge = charge_refunded("pi_unseen", 4900, 4900)
        charge["metadata"] = {"igny8_payment_id": payment["payment_id"]}
        assert (await deliver(client, event("charge.refunded", charge))).json()[
            "outcome"
        ] == "refunded"
        found = await invoice_of(client, account, invoice["invoice_id"])
        assert found["status"] == "paid" and found["payments"][0]["status"] == "refunded"
        assert await balance(client, account) == 0
        topics = await outbox_types(engine, account)
        assert topics.count("credit.granted") == 1 and topics.count("payment.refunded") == 1
        assert (await Billing(engine).violations()) == {}


async def test_an_unreachable_stripe_answers_503_with_retry_after(billing_db, engine):
    """No one listens on Stripe's address: the payment attempt is kept and the caller is told
    when to retry (the same attempt is resent under its idempotency key)."""
    unreachable = f"http://127.0.0.1:{free_port()}"
    async with billing_app(billing_db, engine, unreachable, FixedClock()) as client:
        account = await open_account(client)
        code = f"pack-{uuid.uuid4().hex[:6]}"
        await put_package(client, code, price=900, credits=100)
        bought = await client.post(
            f"/accounts/{account}/package-purchases", json={"package": code},
            headers=as_user(account),
        )  # fmt: skip
        assert bought.status_code == 201, bought.text
        paying = await client.post(
            f"/accounts/{account}/invoices/{bought.json()['invoice_id']}/pay",
            json={"method": "checkout"},
            headers=as_user(account),
        )
        assert paying.status_code == 503, paying.text
        assert paying.headers["Retry-After"].isdigit()
        assert paying.json()["error"]["type"] == "upstream_error"


async def test_a_payment_short_of_the_total_or_in_another_currency_grants_nothing(
    billing_db, engine, stripe_mock
):
    """Stripe says what it collected; less than the invoice's total, or another currency, leaves
    the invoice open with no credits (the money is recorded for an operator to refund)."""
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        for amount, currency in ((100, None), (None, "usd")):
            account, invoice, payment = await buy_and_start_checkout(client)
            session = checkout_completed(payment["payment_id"], invoice["invoice_id"], "pi_short")
            session["amount_total"] = amount if amount is not None else invoice["total"]
            session["currency"] = currency or invoice["currency"]
            answer = await deliver(client, event("checkout.session.completed", session))
            assert answer.status_code == 200, answer.text
            assert answer.json()["outcome"] == "amount_mismatch"
            assert await balance(client, account) == 0
            found = await invoice_of(client, account, invoice["invoice_id"])
            assert found["status"] == "open"
            assert [p["status"] for p in found["payments"]] == ["succeeded"]
            assert "credit.granted" not in await outbox_types(engine, account)

        account, invoice, payment = await buy_and_start_checkout(client)
        session = checkout_completed(payment["payment_id"], invoice["invoice_id"], "pi_full")
        session["amount_total"], session["currency"] = invoice["total"], invoice["currency"]
        answer = await deliver(client, event("checkout.session.completed", session))
        assert answer.json()["outcome"] == "succeeded"
        assert await balance(client, account) == 1000


async def test_a_short_payment_refunded_before_its_success_arrives_still_grants_nothing(
    billing_db, engine, stripe_mock
):
    """The refund settles a payment it finds unsettled: with the charge's own captured amount,
    so a short payment never pays the invoice on that path either."""
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
        charge = charge_refunded("pi_short_refund", amount=100, refunded=100)
        charge["amount_captured"], charge["currency"] = 100, invoice["currency"]
        charge["metadata"] = {"igny8_payment_id": payment["payment_id"]}
        answer = await deliver(client, event("charge.refunded", charge))
        assert answer.status_code == 200, answer.text
        assert await balance(client, account) == 0
        assert (await invoice_of(client, account, invoice["invoice_id"]))["status"] == "open"
        assert "credit.granted" not in await outbox_types(engine, account)
