"""Billing's HTTP API under schemathesis: no 5xx, answers match the OpenAPI document, no route
answers without a token (issue 12), and Stripe's webhook refuses an unsigned request. The live
service runs as its own process on its own database (the fuzzer changes the platform-wide cost
table and catalogue as a platform admin), against stripe-mock. The seeded account has a plan, a
package, a subscription and a package invoice paid and half refunded through signed Stripe
webhooks (so it has a payment and a credit note): the invoice, PDF, credit-note and refund routes
run their happy paths and not only their 404s."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from payments_driver import WEBHOOK_SECRET, charge_refunded, event, intent_succeeded, sign

from billing.bootstrap import SERVICE_ROOT
from igny8.auth import auth_headers
from igny8.fuzz import FuzzTarget
from igny8.testing import fuzz_service, migrated_database, start_service_process

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "billing_fuzz")


def test_billing_api_holds_under_fuzzing(fuzz_db, kafka_bootstrap, stripe_mock, tmp_path: Path):
    child, url = start_service_process(
        "billing",
        {
            "BILLING_DATABASE_URL": fuzz_db,
            "BILLING_ROLE": "api",
            "BILLING_MIGRATE_ON_START": "false",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "BILLING_STRIPE_API_BASE": stripe_mock,
            "BILLING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
        tmp_path / "billing.log",
    )
    try:
        account = uuid.uuid4()

        def headers(label: str = "") -> dict[str, str]:
            return auth_headers(None, "gateway", "billing", account, ["platform_admin"])

        with httpx.Client(base_url=url) as client:
            assert client.post("/accounts", json={"account_id": str(account)}, headers=headers())
            granted = client.post(
                f"/accounts/{account}/grants",
                json={"credits": 1000, "kind": "paid"},
                headers={**headers(), "Idempotency-Key": "seed"},
            )
            assert granted.status_code == 201, granted.text
            seeded = seed_invoices(client, account, headers())
        report = fuzz_service(FuzzTarget(url, headers, path_parameters=seeded))
    finally:
        child.stop()
    print(report.summary())
    assert not report.failures, report.summary()
    assert "Traceback" not in child.output()
    # The seeded invoice and credit note were reached: these answered 200 at least once.
    for label in (
        "GET /accounts/{account_id}/invoices/{invoice_id}",
        "GET /accounts/{account_id}/invoices/{invoice_id}/pdf",
        "GET /accounts/{account_id}/invoices/{invoice_id}/credit-notes/{note_id}/pdf",
        "POST /accounts/{account_id}/invoices/{invoice_id}/refund",
    ):
        assert report.statuses[label][200] > 0, report.summary()
    assert "POST /webhooks/stripe" in report.operations


def seed_invoices(
    client: httpx.Client, account: uuid.UUID, headers: dict[str, str]
) -> dict[str, str]:
    """A plan, a package, a subscription, and a package purchase paid by checkout and then half
    refunded (Stripe's webhooks, signed): the path ids of that invoice and its credit note."""
    offer = {"name": "Seed", "price": 1900, "currency": "usd", "credits": 500}
    for path, body in (
        ("/plans", {**offer, "code": "seed-plan", "interval": "month"}),
        ("/packages", {**offer, "code": "seed-pack"}),
    ):
        answer = client.put(path, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
    subscribed = client.post(
        f"/accounts/{account}/subscription", json={"plan": "seed-plan"}, headers=headers
    )
    assert subscribed.status_code == 201, subscribed.text
    bought = client.post(
        f"/accounts/{account}/package-purchases", json={"package": "seed-pack"}, headers=headers
    )
    assert bought.status_code == 201, bought.text
    invoice_id = bought.json()["invoice_id"]
    paying = client.post(
        f"/accounts/{account}/invoices/{invoice_id}/pay",
        json={"method": "checkout"},
        headers=headers,
    )
    assert paying.status_code == 200, paying.text
    payment_id = paying.json()["payment_id"]
    for kind, obj in (
        ("payment_intent.succeeded", intent_succeeded(payment_id, invoice_id, "pi_seed", 1900)),
        ("charge.refunded", charge_refunded("pi_seed", 1900, 950)),
    ):
        payload = event(kind, obj)
        delivered = client.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload)},
        )
        assert delivered.status_code == 200, delivered.text
    notes = client.get(f"/accounts/{account}/credit-notes", headers=headers).json()["items"]
    assert len(notes) == 1, notes
    return {
        "account_id": str(account),
        "invoice_id": invoice_id,
        "note_id": notes[0]["credit_note_id"],
    }
