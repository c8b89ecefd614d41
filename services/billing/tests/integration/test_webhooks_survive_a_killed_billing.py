"""The same webhooks delivered over real HTTP while billing is SIGKILLed mid-stream, then again to
a restarted billing: the package's credits are granted exactly once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest
from billing_driver import Billing, FixedClock
from payments_driver import (
    WEBHOOK_SECRET,
    billing_app,
    buy_and_start_checkout,
    checkout_completed,
    deliver,
    event,
    intent_succeeded,
    outbox_types,
)

from igny8.testing import ChildProcess, free_port

pytestmark = pytest.mark.integration


async def test_webhooks_around_a_sigkilled_billing_grant_exactly_once(
    billing_db, engine, stripe_mock, tmp_path
):
    async with billing_app(billing_db, engine, stripe_mock, FixedClock()) as client:
        account, invoice, payment = await buy_and_start_checkout(client)
    pid, iid = payment["payment_id"], invoice["invoice_id"]
    events = [
        event("payment_intent.succeeded", intent_succeeded(pid, iid, "pi_killed", 4900)),
        event("checkout.session.completed", checkout_completed(pid, iid, "pi_killed")),
    ]
    port = free_port()
    env = {
        "BILLING_DATABASE_URL": billing_db,
        "BILLING_HTTP_PORT": str(port),
        "BILLING_MIGRATE_ON_START": "false",
        "BILLING_STRIPE_API_BASE": stripe_mock,
        "BILLING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    binary = str(Path(sys.executable).parent / "billing")
    base = f"http://127.0.0.1:{port}"

    def start(name: str) -> ChildProcess:
        process = ChildProcess([binary, "serve", "--role", "api"], tmp_path / name, env)
        process.wait_for_output("service started", timeout=60)
        return process

    async def ready(http: httpx.AsyncClient) -> None:
        for _ in range(200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        raise AssertionError("billing did not answer")

    async def attempt(http: httpx.AsyncClient, payload: bytes) -> int | None:
        try:
            return (await deliver(http, payload)).status_code
        except httpx.TransportError:
            return None  # killed while answering: Stripe would retry

    first = start("billing-1.log")
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        await ready(http)
        inflight = [asyncio.create_task(attempt(http, e)) for e in events * 5]
        await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
        first.kill()  # SIGKILL once one delivery was answered, the others still in flight
        answered = await asyncio.gather(*inflight)
        assert 200 in answered and None in answered
    second = start("billing-2.log")
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            await ready(http)
            answers = [await attempt(http, e) for e in events * 5]
            assert answers == [200] * 10
    finally:
        second.stop()
    assert "stripe event" in first.output()
    billing = Billing(engine)
    assert (await billing.balance(account))[0] == 1000
    topics = await outbox_types(engine, account)
    assert topics.count("credit.granted") == 1
    assert topics.count("invoice.paid") == 1
    assert (await billing.violations()) == {}
