"""Notifications end to end through a gateway process in front of a real billing process (on
stripe-mock): a package bought and paid through `/v1` — the first card declined, the second try
paid, Stripe's webhooks forwarded by the gateway (each delivered twice, as Stripe may) — makes
billing emit its own `payment.failed` and `invoice.paid`; with publishing's
`publication.completed` (published here in its wire format: publishing is not started) they
become one signed webhook each (retried after the receiver fails once), the `payment.failed`
e-mail reaches a local SMTP sink once, and `publication.completed` is also on the site's event
stream."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from gateway_processes import Receiver, StandIn, gateway_env, read_events
from gateway_support import as_user

from billing.bootstrap import SERVICE_ROOT as BILLING_ROOT
from gateway.adapters.sqlalchemy_identity import SqlIdentityStore
from gateway.bootstrap import SERVICE_ROOT
from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.contracts.publications import PublicationChanged
from igny8.db import create_engine
from igny8.testing import (
    ChildProcess,
    free_port,
    migrated_database,
    start_service_process,
    wait_until,
)

pytestmark = pytest.mark.integration

STRIPE_SECRET = "whsec_test_" + "n" * 24


@pytest.fixture(scope="module")
def notify_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "gateway_notify_e2e")


@pytest.fixture(scope="module")
def billing_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, BILLING_ROOT, "billing_notify_e2e")


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    parts = dict(p.split("=", 1) for p in headers["igny8-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    assert abs(int(parts["t"]) - time.time()) < 300


def stripe_event(kind: str, payment: dict[str, Any], invoice: dict[str, Any]) -> bytes:
    """What Stripe sends about the PaymentIntent billing created for `payment` (stripe-mock sends
    no webhooks): a decline, or the invoice's total paid."""
    intent: dict[str, Any] = {
        "id": payment["client_secret"].split("_secret_")[0],  # Stripe's `<intent>_secret_<…>`
        "object": "payment_intent",
        "metadata": {
            "igny8_payment_id": payment["payment_id"],
            "igny8_invoice_id": invoice["invoice_id"],
        },
    }
    if kind == "payment_intent.succeeded":
        intent.update(status="succeeded", amount=invoice["total"], payment_method="pm_card_visa")
    else:
        intent.update(
            status="requires_payment_method",
            last_payment_error={"code": "card_declined", "message": "Your card was declined."},
        )
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": intent},
        }
    ).encode()


async def stripe_delivers(client: httpx.AsyncClient, payload: bytes) -> list[str]:
    """Stripe's delivery through the gateway's public route, twice (at least once is its promise)."""
    outcomes = []
    for _ in range(2):
        t = int(time.time())
        digest = hmac.new(STRIPE_SECRET.encode(), f"{t}.".encode() + payload, hashlib.sha256)
        answer = await client.post(
            "/v1/webhooks/stripe",
            content=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": f"t={t},v1={digest.hexdigest()}",
            },
        )
        assert answer.status_code == 200, answer.text
        outcomes.append(answer.json()["outcome"])
    return outcomes


async def test_billing_payment_and_publishing_events_are_webhooked_once_and_mailed(
    notify_db, billing_db, kafka_bootstrap, stripe_mock, tmp_path
):
    mails: list[Any] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mails.append(envelope)
            return "250 OK"

    smtp_port = free_port()
    smtp = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    owner = f"n-{uuid.uuid4().hex[:6]}"
    engine = create_engine(notify_db, 2)
    await SqlIdentityStore(engine).ensure_user(owner, f"{owner}@example.com")
    await engine.dispose()
    site = uuid.uuid4()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    billing_env = {
        "BILLING_DATABASE_URL": billing_db,
        "BILLING_MIGRATE_ON_START": "false",
        "BILLING_ROLE": "all",  # its outbox relay publishes what the payment changed
        "BILLING_STRIPE_API_BASE": stripe_mock,
        "BILLING_STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
    }
    billing: ChildProcess | None = None
    try:
        billing, billing_url = start_service_process(
            "billing", billing_env, tmp_path / "billing.log"
        )
        env = {
            "GATEWAY_BILLING_URL": billing_url,
            "GATEWAY_WEBHOOK_ALLOW": "127.0.0.1/32",
            "GATEWAY_WEBHOOK_BACKOFF_S": "0.2",
            "GATEWAY_NOTIFY_POLL_S": "0.2",
            "GATEWAY_SMTP_HOST": "127.0.0.1",
            "GATEWAY_SMTP_PORT": str(smtp_port),
        }
        with StandIn() as stand_in, Receiver([500]) as receiver:
            child, url = start_service_process(
                "gateway",
                gateway_env(notify_db, kafka_bootstrap, f"http://127.0.0.1:{stand_in.port}", **env),
                tmp_path / "gateway.log",
            )
            try:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                    opened = await client.post(
                        "/v1/accounts", json={"name": "Acme"}, headers=as_user(owner)
                    )  # billing opens the account's ledger (the real billing, through the gateway)
                    assert opened.status_code == 201, opened.text
                    account = uuid.UUID(opened.json()["account_id"])
                    stand_in.objects.add((str(account), str(site)))
                    made = await client.post(
                        "/v1/webhook-endpoints",
                        json={
                            "url": receiver.url,
                            "events": ["invoice.paid", "payment.failed", "publication.completed"],
                        },
                        headers=as_user(owner, account),
                    )
                    assert made.status_code == 201, made.text
                    secret = made.json()["secret"]

                    code = f"pack-{uuid.uuid4().hex[:6]}"
                    async with httpx.AsyncClient(base_url=billing_url, timeout=30) as operator:
                        package = await operator.put(
                            "/packages",
                            json={"code": code, "name": "Pack", "price": 4900, "currency": "eur",
                                  "credits": 1000},
                            headers=auth_headers(
                                None, "gateway", "billing", account, ["platform_admin"]
                            ),
                        )  # fmt: skip
                    assert package.status_code == 200, package.text
                    bought = await client.post(
                        "/v1/package-purchases",
                        json={"package": code},
                        headers=as_user(owner, account),
                    )
                    assert bought.status_code == 201, bought.text
                    invoice = bought.json()

                    async def pay() -> dict[str, Any]:
                        answer = await client.post(
                            f"/v1/invoices/{invoice['invoice_id']}/pay",
                            json={"method": "payment_intent"},
                            headers=as_user(owner, account),
                        )  # billing asks stripe-mock for a PaymentIntent
                        assert answer.status_code == 200, answer.text
                        return answer.json()

                    declined = await pay()
                    failing = stripe_event("payment_intent.payment_failed", declined, invoice)
                    assert (await stripe_delivers(client, failing))[1] == "duplicate"
                    paid = await pay()
                    assert paid["payment_id"] != declined["payment_id"]  # a new attempt
                    succeeding = stripe_event("payment_intent.succeeded", paid, invoice)
                    assert (await stripe_delivers(client, succeeding))[1] == "duplicate"

                    published = TOPICS.envelope(
                        "publication.completed",
                        PublicationChanged(
                            publication_id=uuid.uuid4(), content_id=uuid.uuid4(), content_version=1,
                            site_id=site, integration_id=uuid.uuid4(), platform="wordpress",
                            status="published", url="https://blog.example/a",
                        ),
                        source="publishing", account_id=account, site_id=site,
                    )  # fmt: skip
                    for _ in range(2):  # delivered twice by Kafka: notified once
                        await producer.send_and_wait(
                            "publication.completed", published.to_bytes(), key=str(account).encode()
                        )

                    async def delivered() -> bool:
                        return len({h["igny8-event-id"] for h, _ in receiver.calls}) == 3

                    await wait_until(delivered, 120, interval=0.5)

                    async def mailed() -> bool:
                        return len(mails) >= 1

                    await wait_until(mailed, 30, interval=0.5)
                    await asyncio.sleep(2)  # anything more (a second delivery or mail) shows now
                    by_event: dict[str, list[dict[str, Any]]] = {}
                    for headers, body in receiver.calls:
                        verify(secret, headers, body)
                        by_event.setdefault(headers["igny8-event-id"], []).append(json.loads(body))
                    attempts = sorted(len(bodies) for bodies in by_event.values())
                    assert attempts == [1, 1, 2], attempts  # the first call failed and was retried
                    sent = {bodies[-1]["type"]: bodies[-1] for bodies in by_event.values()}
                    assert set(sent) == {"invoice.paid", "payment.failed", "publication.completed"}
                    assert {b["account_id"] for b in sent.values()} == {str(account)}
                    assert sent["publication.completed"]["id"] == str(published.id)
                    failed = sent["payment.failed"][
                        "data"
                    ]  # billing's own event, as billing sent it
                    assert failed["payment_id"] == declined["payment_id"]
                    assert failed["invoice_id"] == invoice["invoice_id"]
                    assert failed["failure_reason"]
                    assert sent["invoice.paid"]["data"]["invoice_id"] == invoice["invoice_id"]
                    assert sent["invoice.paid"]["data"]["total"] == invoice["total"]
                    assert len(mails) == 1  # payment.failed only; invoice.paid is no e-mail
                    assert mails[0].rcpt_tos == [f"{owner}@example.com"]
                    assert "payment failed" in mails[0].content.decode().lower()
                    streamed, _ = await read_events(
                        client,
                        f"{url}/v1/sites/{site}/events",
                        as_user(owner, account),
                        count=1,
                        timeout=30,
                    )
                    assert [t for _, t in streamed] == ["publication.completed"]
            finally:
                child.stop()
    finally:
        if billing is not None:
            billing.stop()
        await producer.stop()
        smtp.stop()
