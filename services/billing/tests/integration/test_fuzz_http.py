"""Billing's HTTP API under schemathesis: no 5xx, answers match the OpenAPI document, no route
answers without a token (issue 12), and Stripe's webhook refuses an unsigned request. The live
service runs as its own process on its own database (the fuzzer changes the platform-wide cost
table and catalogue as a platform admin), against stripe-mock. The seeded account has a plan, a
package, a subscription and an open invoice, so the invoice, PDF and payment routes run their
happy paths and not only their 404s."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
            invoice_id = seed_invoices(client, account, headers())
        report = fuzz_service(
            FuzzTarget(
                url,
                headers,
                path_parameters={"account_id": str(account), "invoice_id": invoice_id},
            )
        )
    finally:
        child.stop()
    print(report.summary())
    assert not report.failures, report.summary()
    assert "Traceback" not in child.output()
    # The seeded invoice was reached: its reads and its PDF answered 200 at least once.
    for label in (
        "GET /accounts/{account_id}/invoices/{invoice_id}",
        "GET /accounts/{account_id}/invoices/{invoice_id}/pdf",
    ):
        assert report.statuses[label][200] > 0, report.summary()
    assert "POST /webhooks/stripe" in report.operations


def seed_invoices(client: httpx.Client, account: uuid.UUID, headers: dict[str, str]) -> str:
    """A plan, a package, a subscription and a package purchase; the purchase's open invoice."""
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
    assert bought.json()["status"] == "open"
    return str(bought.json()["invoice_id"])
