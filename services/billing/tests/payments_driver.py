"""Test support for invoices and payments: billing's HTTP app on a controlled clock against
stripe-mock, and Stripe webhooks signed with the endpoint secret (test support)."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import sqlalchemy as sa
from billing_driver import FixedClock
from pydantic import SecretStr
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from igny8.auth import auth_headers
from igny8.runtime import create_app

WEBHOOK_SECRET = "whsec_test_" + "s" * 24


def as_user(account: uuid.UUID, *roles: str) -> dict[str, str]:
    return auth_headers(None, "gateway", "billing", account, roles)


def as_admin(account: uuid.UUID) -> dict[str, str]:
    return as_user(account, "platform_admin")


@asynccontextmanager
async def billing_app(
    billing_db: str, engine: AsyncEngine, stripe_api: str, clock: FixedClock, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = BillingSettings(
        database_url=billing_db,
        stripe_api_base=stripe_api,
        stripe_webhook_secret=SecretStr(WEBHOOK_SECRET),
    )
    app = create_app(bootstrap(settings, engine=engine, clock=clock, **overrides))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://billing", timeout=60
    ) as client:
        yield client


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Stripe's scheme: HMAC-SHA256 of "{t}.{raw body}", sent as `t=…,v1=…`."""
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


async def deliver(
    client: httpx.AsyncClient, payload: bytes, signature: str | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = sign(payload) if signature is None else signature
    return await client.post("/webhooks/stripe", content=payload, headers=headers)


def metadata(payment_id: str, invoice_id: str) -> dict[str, str]:
    return {"igny8_payment_id": payment_id, "igny8_invoice_id": invoice_id}


def intent_succeeded(payment_id: str, invoice_id: str, intent: str, amount: int) -> dict[str, Any]:
    return {
        "id": intent,
        "object": "payment_intent",
        "amount": amount,
        "status": "succeeded",
        "payment_method": "pm_card_visa",
        "metadata": metadata(payment_id, invoice_id),
    }


def intent_failed(payment_id: str, invoice_id: str, intent: str) -> dict[str, Any]:
    return {
        "id": intent,
        "object": "payment_intent",
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
        "metadata": metadata(payment_id, invoice_id),
    }


def checkout_completed(
    payment_id: str, invoice_id: str, intent: str, session: str = "cs_test_1"
) -> dict[str, Any]:
    return {
        "id": session,
        "object": "checkout.session",
        "payment_status": "paid",
        "status": "complete",
        "payment_intent": intent,
        "metadata": metadata(payment_id, invoice_id),
    }


def charge_refunded(intent: str, amount: int, refunded: int) -> dict[str, Any]:
    return {
        "id": f"ch_{intent}",
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded >= amount,
        "payment_intent": intent,
        "metadata": {},
    }


async def open_account(client: httpx.AsyncClient, account: uuid.UUID | None = None) -> uuid.UUID:
    account = account or uuid.uuid4()
    answer = await client.post(
        "/accounts", json={"account_id": str(account)}, headers=as_user(account)
    )
    assert answer.status_code in (200, 201), answer.text
    return account


async def put_package(
    client: httpx.AsyncClient, code: str, price: int, credits: int, currency: str = "eur"
) -> dict[str, Any]:
    admin = as_admin(uuid.uuid4())
    answer = await client.put(
        "/packages",
        json={"code": code, "name": f"Pack {code}", "price": price, "currency": currency,
              "credits": credits},
        headers=admin,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


async def buy_and_start_checkout(
    client: httpx.AsyncClient, price: int = 4900, credits: int = 1000
) -> tuple[uuid.UUID, dict[str, Any], dict[str, Any]]:
    account = await open_account(client)
    code = f"pack-{uuid.uuid4().hex[:6]}"
    await put_package(client, code, price=price, credits=credits)
    bought = await client.post(
        f"/accounts/{account}/package-purchases", json={"package": code}, headers=as_user(account)
    )
    assert bought.status_code == 201, bought.text
    invoice = bought.json()
    pay = await client.post(
        f"/accounts/{account}/invoices/{invoice['invoice_id']}/pay",
        json={"method": "checkout"},
        headers=as_user(account),
    )
    assert pay.status_code == 200, pay.text
    return account, invoice, pay.json()


async def balance(client: httpx.AsyncClient, account: uuid.UUID) -> int:
    answer = await client.get(f"/accounts/{account}/balance", headers=as_user(account))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["available"])


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def outbox_types(engine: AsyncEngine, account: uuid.UUID) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT topic FROM outbox WHERE key = :k ORDER BY id"),
            {"k": str(account).encode()},
        )
        return [r.topic for r in rows]
