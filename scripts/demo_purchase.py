"""The demo's purchase: a credit package bought and paid by card through Stripe's hosted checkout,
here stripe-mock. stripe-mock sends no webhooks, so this script plays Stripe's part: it signs the
`checkout.session.completed` event with the endpoint secret and posts it to billing's webhook
route, as the gateway forwards Stripe's real ones. Run alone against a running billing:
`python scripts/demo_purchase.py` (needs `GATEWAY_SERVICE_PRIVATE_KEY`, `BILLING_STRIPE_WEBHOOK_SECRET`)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import httpx
from credits import checkout_completed, signature

from igny8.auth import auth_headers

ROOT = Path(__file__).resolve().parents[1]


def billing_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('BILLING_HTTP_PORT', 8101)}"


async def buy_credits(client: httpx.AsyncClient, account: uuid.UUID, credits: int) -> dict:
    """Package → invoice → checkout at stripe-mock → signed webhook → credits granted once."""
    secret = os.environ.get("BILLING_STRIPE_WEBHOOK_SECRET", "whsec_igny8local")
    base = billing_url()

    def h(*roles: str) -> dict[str, str]:
        return auth_headers(None, "gateway", "billing", account, roles)

    code = f"demo-{credits}"
    (
        await client.put(
            f"{base}/packages",
            json={"code": code, "name": "Demo pack", "price": 4900, "currency": "eur",
                  "credits": credits},
            headers=h("platform_admin"),
        )
    ).raise_for_status()  # fmt: skip
    (
        await client.put(
            f"{base}/accounts/{account}/billing-profile",
            json={"name": "Green Thumb Media", "email": "billing@greenthumb.example",
                  "number_prefix": "GREEN", "tax_rate_bp": 1900},
            headers=h("platform_admin"),
        )
    ).raise_for_status()  # fmt: skip
    bought = await client.post(
        f"{base}/accounts/{account}/package-purchases", json={"package": code}, headers=h()
    )
    bought.raise_for_status()
    invoice = bought.json()
    total = f"{invoice['total'] / 100:.2f} {invoice['currency'].upper()}"
    print(f"invoice     {invoice['number']}: {invoice['credits']:,} credits, {total} incl. tax")
    pay = await client.post(
        f"{base}/accounts/{account}/invoices/{invoice['invoice_id']}/pay",
        json={"method": "checkout"},
        headers=h(),
    )
    pay.raise_for_status()
    payment = pay.json()
    print(f"checkout    {payment['checkout_url']} (Stripe's hosted page; here stripe-mock)")
    event = checkout_completed(payment["payment_id"])
    for _ in range(2):  # Stripe delivers at least once: the second is recognised as a duplicate
        answer = await client.post(
            f"{base}/webhooks/stripe",
            content=event,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature(event, secret),
            },
        )
        answer.raise_for_status()
        print(f"webhook     checkout.session.completed → {answer.json()['outcome']}")
    pdf = await client.get(
        f"{base}/accounts/{account}/invoices/{invoice['invoice_id']}/pdf", headers=h()
    )
    pdf.raise_for_status()
    out = ROOT / "var" / f"{invoice['number']}.pdf"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf.content)
    print(
        f"pdf         {out} ({len(pdf.content):,} bytes, sha256 {pdf.headers['x-checksum-sha256'][:12]}…)"
    )
    balance = (await client.get(f"{base}/accounts/{account}/balance", headers=h())).json()
    print(f"credits     {balance['available']:,} available after payment")
    return balance


async def main() -> int:
    account = uuid.uuid4()
    async with httpx.AsyncClient(timeout=60) as client:
        (
            await client.post(
                f"{billing_url()}/accounts",
                json={"account_id": str(account)},
                headers=auth_headers(None, "gateway", "billing", account),
            )
        ).raise_for_status()
        print(f"account     {account}")
        await buy_credits(client, account, 50_000)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
