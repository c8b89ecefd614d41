"""Notifications end to end through a gateway process: billing's `invoice.paid` and
`payment.failed` and publishing's `publication.completed`, published on the real Kafka broker in
their wire formats, become one signed webhook each (retried after the receiver fails once), the
`payment.failed` e-mail reaches a local SMTP sink once, and `publication.completed` is also on
the site's event stream."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller
from gateway_processes import Receiver, StandIn, gateway_env, read_events
from gateway_support import as_user

from gateway.adapters.sqlalchemy_identity import SqlIdentityStore
from gateway.bootstrap import SERVICE_ROOT
from igny8.contracts import TOPICS
from igny8.contracts.invoices import InvoiceChanged, PaymentChanged
from igny8.contracts.publications import PublicationChanged
from igny8.db import create_engine
from igny8.testing import free_port, migrated_database, start_service_process, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def notify_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "gateway_notify_e2e")


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    parts = dict(p.split("=", 1) for p in headers["igny8-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    assert abs(int(parts["t"]) - time.time()) < 300


async def test_billing_and_publishing_events_are_webhooked_once_and_mailed(
    notify_db, kafka_bootstrap, tmp_path
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
    store = SqlIdentityStore(engine)
    await store.ensure_user(owner, f"{owner}@example.com")
    account = uuid.uuid4()
    await store.create_account(account, "Acme", owner)
    await engine.dispose()
    site = uuid.uuid4()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    env = {
        "GATEWAY_WEBHOOK_ALLOW": "127.0.0.1/32",
        "GATEWAY_WEBHOOK_BACKOFF_S": "0.2",
        "GATEWAY_NOTIFY_POLL_S": "0.2",
        "GATEWAY_SMTP_HOST": "127.0.0.1",
        "GATEWAY_SMTP_PORT": str(smtp_port),
    }
    with StandIn() as stand_in, Receiver([500]) as receiver:
        stand_in.objects.add((str(account), str(site)))
        child, url = start_service_process(
            "gateway",
            gateway_env(notify_db, kafka_bootstrap, f"http://127.0.0.1:{stand_in.port}", **env),
            tmp_path / "gateway.log",
        )
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
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
                invoice = uuid.uuid4()
                now = datetime.now(UTC)
                events = {
                    "invoice.paid": InvoiceChanged(
                        invoice_id=invoice, number="INV-2026-0001", kind="credit_package",
                        status="paid", currency="usd", subtotal=1000, tax=0, total=1000,
                        credits=1000, at=now,
                    ),
                    "payment.failed": PaymentChanged(
                        payment_id=uuid.uuid4(), invoice_id=invoice, attempt=1,
                        method="payment_intent", status="failed", amount=1000, currency="usd",
                        failure_reason="card_declined",
                    ),
                    "publication.completed": PublicationChanged(
                        publication_id=uuid.uuid4(), content_id=uuid.uuid4(), content_version=1,
                        site_id=site, integration_id=uuid.uuid4(), platform="wordpress",
                        status="published", url="https://blog.example/a",
                    ),
                }  # fmt: skip
                ids = {}
                for topic, payload in events.items():
                    source = "publishing" if topic.startswith("publication") else "billing"
                    envelope = TOPICS.envelope(
                        topic, payload, source=source, account_id=account, site_id=site
                    )
                    ids[topic] = str(envelope.id)
                    for _ in range(2):  # delivered twice by Kafka: notified once
                        await producer.send_and_wait(
                            topic, envelope.to_bytes(), key=str(account).encode()
                        )

                async def delivered() -> bool:
                    return len({h["igny8-event-id"] for h, _ in receiver.calls}) == 3

                await wait_until(delivered, 120, interval=0.5)

                async def mailed() -> bool:
                    return len(mails) >= 1

                await wait_until(mailed, 30, interval=0.5)
                await asyncio.sleep(2)  # anything more (a second delivery or mail) shows now
                by_event: dict[str, list[bytes]] = {}
                for headers, body in receiver.calls:
                    verify(secret, headers, body)
                    by_event.setdefault(headers["igny8-event-id"], []).append(body)
                attempts = sorted(len(bodies) for bodies in by_event.values())
                assert attempts == [1, 1, 2], attempts  # the first call failed and was retried
                assert set(by_event) == set(ids.values())
                for topic, event_id in ids.items():
                    sent = json.loads(by_event[event_id][-1])
                    assert sent["type"] == topic
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
            await producer.stop()
            smtp.stop()
