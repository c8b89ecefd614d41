"""Signed webhooks (retried after a receiver failure, logged, endpoints disabled after repeated
failures, URLs guarded) and e-mails over SMTP, each once per event."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from gateway_processes import Receiver
from gateway_support import as_user, settings_for

from gateway.adapters.smtp_mailer import SmtpMailer
from gateway.adapters.sqlalchemy_identity import SqlIdentityStore
from gateway.entrypoints.notify import deliver_webhooks, enqueue, send_emails
from igny8.contracts import TOPICS
from igny8.contracts.credits import BalanceLow
from igny8.contracts.runs import RunChanged
from igny8.db import session_factory
from igny8.net import GuardedHttp, UrlGuard
from igny8.testing import free_port

pytestmark = pytest.mark.integration


async def handle(engine: Any, topic: str, payload: Any, account: uuid.UUID, event_id: uuid.UUID):  # type: ignore[no-untyped-def]
    source = "billing" if topic == "balance.low" else "automation"
    envelope = TOPICS.envelope(topic, payload, source=source, account_id=account)
    envelope = envelope.model_copy(update={"id": event_id})
    async with session_factory(engine)() as session, session.begin():
        await enqueue(envelope, payload, session)


def verify(secret: str, headers: dict[str, str], body: bytes) -> None:
    parts = dict(p.split("=", 1) for p in headers["igny8-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    assert abs(int(parts["t"]) - time.time()) < 300


async def test_a_webhook_is_signed_retried_after_a_failure_and_delivered_once(
    make_gateway, gateway_db, gateway_engine, new_account
):
    settings = settings_for(gateway_db, webhook_allow="127.0.0.1/32", webhook_backoff_s=0.01)
    owner, account = await new_account()
    client = await make_gateway(webhook_allow="127.0.0.1/32")
    with Receiver([500]) as receiver:
        async with client:
            made = await client.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url, "events": ["run.completed"]},
                headers=as_user(owner, account),
            )
            assert made.status_code == 201, made.text
            secret, endpoint = made.json()["secret"], made.json()["endpoint_id"]
            run = RunChanged(
                run_id=uuid.uuid4(), site_id=uuid.uuid4(), status="completed", stages=[1]
            )
            event = uuid.uuid4()
            for _ in range(2):  # a redelivered event notifies once
                await handle(gateway_engine, "run.completed", run, account, event)
            http = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5, max_redirects=0)
            try:
                assert await deliver_webhooks(gateway_engine, settings, http) == 1
                await asyncio.sleep(0.05)
                assert await deliver_webhooks(gateway_engine, settings, http) == 1
                assert await deliver_webhooks(gateway_engine, settings, http) == 0
            finally:
                await http.aclose()
            assert len(receiver.calls) == 2
            for headers, body in receiver.calls:
                verify(secret, headers, body)
                assert headers["igny8-event-id"] == str(event)
            assert receiver.calls[0][1] == receiver.calls[1][1]
            log = await client.get(
                f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=as_user(owner, account)
            )
            (delivery,) = log.json()["items"]
            assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
            _, other = await new_account()
            foreign = await client.get(
                f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=as_user(owner, other)
            )
            assert foreign.status_code == 403  # the owner is no member of that account


async def test_an_endpoint_failing_repeatedly_is_disabled(
    make_gateway, gateway_db, gateway_engine, new_account
):
    settings = settings_for(
        gateway_db, webhook_backoff_s=0.0, webhook_disable_after=3, webhook_max_attempts=10
    )
    owner, account = await new_account()
    client = await make_gateway(webhook_allow="127.0.0.1/32")
    with Receiver([500] * 10) as receiver:
        async with client:
            made = await client.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url, "events": ["run.failed"]},
                headers=as_user(owner, account),
            )
            run = RunChanged(run_id=uuid.uuid4(), site_id=uuid.uuid4(), status="failed", stages=[1])
            await handle(gateway_engine, "run.failed", run, account, uuid.uuid4())
            http = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5, max_redirects=0)
            try:
                for _ in range(5):
                    await deliver_webhooks(gateway_engine, settings, http)
            finally:
                await http.aclose()
            assert len(receiver.calls) == 3
            (listed,) = (
                await client.get("/v1/webhook-endpoints", headers=as_user(owner, account))
            ).json()["items"]
            assert listed["endpoint_id"] == made.json()["endpoint_id"]
            assert listed["enabled"] is False and "3 failed" in listed["disabled_reason"]


async def test_endpoint_urls_pass_the_url_guard(gateway, new_account):
    owner, account = await new_account()
    for url in ("http://127.0.0.1:8101/hook", "http://169.254.169.254/latest", "http://10.0.0.1/"):
        refused = await gateway.post(
            "/v1/webhook-endpoints",
            json={"url": url, "events": ["run.completed"]},
            headers=as_user(owner, account),
        )
        assert refused.status_code == 422, url
        error = refused.json()["error"]
        assert (error["code"], error["param"]) == ("blocked_url", "url"), error
    refused = await gateway.post(
        "/v1/webhook-endpoints",
        json={"url": "https://hooks.example/in", "events": ["run.nonsense"]},
        headers=as_user(owner, account),
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["param"] == "events"


async def test_balance_low_is_emailed_once_to_owners_over_smtp(gateway_db, gateway_engine):
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        store = SqlIdentityStore(gateway_engine)
        owner = f"mail-{uuid.uuid4().hex[:6]}"
        await store.ensure_user(owner, f"{owner}@example.com")
        account = uuid.uuid4()
        await store.create_account(account, "Acme", owner)
        event = uuid.uuid4()
        for _ in range(2):
            await handle(
                gateway_engine, "balance.low", BalanceLow(available=3, threshold=10), account, event
            )
        settings = settings_for(gateway_db)
        mailer = SmtpMailer("127.0.0.1", port, "IGNY8 <no-reply@igny8.local>")
        assert await send_emails(gateway_engine, settings, mailer) == 1
        assert await send_emails(gateway_engine, settings, mailer) == 0
        (mail,) = received
        assert mail.rcpt_tos == [f"{owner}@example.com"]
        text = mail.content.decode()
        assert "credit balance is low" in text and "3 credits" in text
    finally:
        controller.stop()
