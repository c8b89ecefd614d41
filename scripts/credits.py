"""`make credits ACCOUNT=<id> [PACKAGE=<code>]`: credits for an account of the running local stack,
bought the way a customer buys them.

The package is bought (an open invoice) and paid by card through Stripe's hosted checkout — locally
stripe-mock, which sends no webhooks — so this script then plays Stripe's part: it signs the
`checkout.session.completed` event with the stack's own endpoint secret and posts it to the
gateway's public `/v1/webhooks/stripe`, which forwards it byte for byte to billing. Billing grants
the credits in its ledger (double-entry) exactly once per payment: the event is delivered twice, as
Stripe may, and the second delivery is recognised as a duplicate.

Without PACKAGE the cheapest package on sale is bought; with none on sale, a local one
(`local-50k`: 50,000 credits) is put on sale first, as a platform operator would.

The stack's addresses and webhook secret come from the environment (`<SERVICE>_HTTP_PORT`,
`BILLING_STRIPE_WEBHOOK_SECRET`) or else from `.infra/stack.json`, which `make run` writes while it
serves; the service token is signed with the gateway's key from `.env.infra`."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from igny8.auth import auth_headers

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = ROOT / ".infra" / "stack.json"
LOCAL_PACKAGE = {
    "code": "local-50k",
    "name": "Local 50k",
    "price": 4900,
    "currency": "eur",
    "credits": 50_000,
}


class CreditsError(Exception):
    """Why no credits could be bought, said to the person who ran `make credits`."""


@dataclass(frozen=True)
class Stack:
    billing: str
    gateway: str
    webhook_secret: str


def local_stack(env: dict[str, str], stack_file: Path = STACK_FILE) -> Stack:
    """Where the running stack listens and the secret its billing verifies Stripe's events with:
    the environment first, then what `make run` recorded."""
    recorded: dict[str, Any] = {}
    if stack_file.is_file():
        recorded = json.loads(stack_file.read_text())
    ports = recorded.get("ports", {})

    def url(name: str, default: int) -> str:
        port = env.get(f"{name.upper()}_HTTP_PORT") or ports.get(name) or default
        return f"http://127.0.0.1:{port}"

    secret = env.get("BILLING_STRIPE_WEBHOOK_SECRET") or recorded.get("stripe_webhook_secret")
    if not secret:
        raise CreditsError(
            "no Stripe webhook secret: start the stack with `make run` (it records the secret in "
            f"{stack_file.relative_to(ROOT) if stack_file.is_relative_to(ROOT) else stack_file}) "
            "or set BILLING_STRIPE_WEBHOOK_SECRET to the one billing runs with"
        )
    return Stack(url("billing", 8101), url("gateway", 8100), secret)


def signature(payload: bytes, secret: str, at: int | None = None) -> str:
    """Stripe's scheme: HMAC-SHA256 of "{t}.{raw body}", sent as `t=…,v1=…`."""
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def checkout_completed(payment_id: str) -> bytes:
    """The event Stripe sends when the hosted checkout of billing's payment was paid."""
    return json.dumps(
        {
            "id": f"evt_local_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": f"cs_local_{uuid.uuid4().hex[:12]}",
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "payment_intent": f"pi_local_{uuid.uuid4().hex[:12]}",
                    "metadata": {"igny8_payment_id": payment_id},
                }
            },
        }
    ).encode()


def _ok(answer: httpx.Response, what: str) -> Any:
    if answer.status_code >= 400:
        raise CreditsError(f"{what}: {answer.status_code} {answer.text[:500]}")
    return answer.json()


async def choose_package(
    client: httpx.AsyncClient, billing: str, account: uuid.UUID, code: str | None
) -> dict[str, Any]:
    on_sale = _ok(
        await client.get(
            f"{billing}/packages", headers=auth_headers(None, "gateway", "billing", account)
        ),
        "listing the packages",
    )["items"]
    if code:
        for package in on_sale:
            if package["code"] == code:
                return dict(package)
        codes = ", ".join(p["code"] for p in on_sale) or "none"
        raise CreditsError(f"no package {code!r} on sale (on sale: {codes})")
    if on_sale:
        return dict(min(on_sale, key=lambda p: (p["price"], p["code"])))
    admin = auth_headers(None, "gateway", "billing", account, ("platform_admin",))
    return dict(
        _ok(
            await client.put(f"{billing}/packages", json=LOCAL_PACKAGE, headers=admin),
            "putting the local package on sale",
        )
    )


async def buy_credits(
    client: httpx.AsyncClient, stack: Stack, account: uuid.UUID, code: str | None = None
) -> dict[str, Any]:
    """Package → invoice → checkout (stripe-mock) → Stripe's signed event through the gateway →
    credits granted once. Answers the invoice, the webhook outcomes and the balance after."""
    owner = auth_headers(None, "gateway", "billing", account, ("owner",))
    before = _ok(
        await client.get(f"{stack.billing}/accounts/{account}/balance", headers=owner),
        f"account {account}",
    )
    package = await choose_package(client, stack.billing, account, code)
    invoice = _ok(
        await client.post(
            f"{stack.billing}/accounts/{account}/package-purchases",
            json={"package": package["code"]},
            headers=owner,
        ),
        f"buying package {package['code']}",
    )
    payment = _ok(
        await client.post(
            f"{stack.billing}/accounts/{account}/invoices/{invoice['invoice_id']}/pay",
            json={"method": "checkout"},
            headers=owner,
        ),
        f"paying invoice {invoice['number']}",
    )
    event = checkout_completed(payment["payment_id"])
    outcomes = []
    for _ in range(2):  # Stripe delivers at least once: the second is recognised as a duplicate
        answer = await client.post(
            f"{stack.gateway}/v1/webhooks/stripe",
            content=event,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature(event, stack.webhook_secret),
            },
        )
        outcomes.append(_ok(answer, "delivering checkout.session.completed")["outcome"])
    after = _ok(
        await client.get(f"{stack.billing}/accounts/{account}/balance", headers=owner),
        f"account {account}",
    )
    return {
        "package": package,
        "invoice": invoice,
        "payment_id": payment["payment_id"],
        "outcomes": outcomes,
        "before": before["available"],
        "available": after["available"],
    }


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account", required=True, help="the account id (GET /v1/me lists yours)")
    parser.add_argument("--package", default=None, help="a package code (default: the cheapest)")
    args = parser.parse_args(argv)
    try:
        account = uuid.UUID(args.account)
    except ValueError:
        print(f"credits: {args.account!r} is not an account id (a UUID)", file=sys.stderr)
        return 2
    try:
        stack = local_stack(dict(os.environ))
        async with httpx.AsyncClient(timeout=60) as client:
            bought = await buy_credits(client, stack, account, args.package or None)
    except CreditsError as error:
        print(f"credits: {error}", file=sys.stderr)
        return 1
    except httpx.TransportError as error:
        print(f"credits: the stack does not answer ({error!r}); is `make run` up?", file=sys.stderr)
        return 1
    invoice, package = bought["invoice"], bought["package"]
    print(f"package     {package['code']}: {package['credits']:,} credits")
    print(f"invoice     {invoice['number']} ({invoice['total'] / 100:.2f} "
          f"{invoice['currency'].upper()} incl. tax), paid by checkout (stripe-mock)")  # fmt: skip
    print(f"webhook     checkout.session.completed → {' then '.join(bought['outcomes'])}")
    print(f"credits     {bought['before']:,} → {bought['available']:,} available")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
