"""Billing's internal HTTP API: auth, tenant isolation, admin-only routes, bad input."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from igny8.auth import auth_headers
from igny8.runtime import create_app
from igny8.service_keys import private_key_variable

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(billing_db, engine) -> AsyncIterator[httpx.AsyncClient]:
    settings = BillingSettings(database_url=billing_db)
    app = create_app(bootstrap(settings, engine=engine))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://billing"
    ) as c:
        yield c


def as_user(account: uuid.UUID, *roles: str, caller: str = "gateway") -> dict[str, str]:
    return auth_headers(None, caller, "billing", account, roles)


def as_admin(account: uuid.UUID) -> dict[str, str]:
    return as_user(account, "platform_admin")


async def open_with_credits(client: httpx.AsyncClient, credits: int) -> uuid.UUID:
    account = uuid.uuid4()
    assert (
        await client.post("/accounts", json={"account_id": str(account)}, headers=as_user(account))
    ).status_code == 201
    answer = await client.post(
        f"/accounts/{account}/grants",
        json={"credits": credits, "kind": "paid"},
        headers={**as_admin(account), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 201, answer.text
    return account


async def test_opening_an_account_is_idempotent(client):
    account = uuid.uuid4()
    first = await client.post(
        "/accounts", json={"account_id": str(account)}, headers=as_user(account)
    )
    again = await client.post(
        "/accounts", json={"account_id": str(account)}, headers=as_user(account)
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"account_id": str(account), "created": False}


async def test_grants_need_platform_admin_and_an_idempotency_key(client):
    account = await open_with_credits(client, 10)
    body = {"credits": 50, "kind": "paid"}
    assert (
        await client.post(
            f"/accounts/{account}/grants",
            json=body,
            headers={**as_user(account), "Idempotency-Key": "k1"},
        )
    ).status_code == 403
    assert (
        await client.post(f"/accounts/{account}/grants", json=body, headers=as_admin(account))
    ).status_code == 422
    headers = {**as_admin(account), "Idempotency-Key": "k1"}
    first = await client.post(f"/accounts/{account}/grants", json=body, headers=headers)
    again = await client.post(f"/accounts/{account}/grants", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["grant_id"] == again.json()["grant_id"]
    conflict = await client.post(
        f"/accounts/{account}/grants", json={"credits": 51, "kind": "paid"}, headers=headers
    )
    assert conflict.status_code == 409
    balance = await client.get(f"/accounts/{account}/balance", headers=as_user(account))
    assert balance.json()["available"] == 60
    assert balance.json()["by_kind"]["paid"] == {"available": 60, "held": 0}


async def test_promo_grants_show_their_expiry_and_bad_grants_are_422(client):
    account = await open_with_credits(client, 1)
    headers = {**as_admin(account), "Idempotency-Key": "promo"}
    no_expiry = await client.post(
        f"/accounts/{account}/grants", json={"credits": 5, "kind": "promo"}, headers=headers
    )
    assert no_expiry.status_code == 422
    assert "expiry" in no_expiry.json()["error"]["message"]
    ok = await client.post(
        f"/accounts/{account}/grants",
        json={"credits": 5, "kind": "promo", "expires_at": "2099-01-01T00:00:00Z"},
        headers={**as_admin(account), "Idempotency-Key": "promo2"},
    )
    assert ok.status_code == 201
    balance = (await client.get(f"/accounts/{account}/balance", headers=as_user(account))).json()
    assert balance["next_expiries"][0]["available"] == 5


async def test_another_accounts_data_answers_404(client):
    owner = await open_with_credits(client, 100)
    stranger = uuid.uuid4()
    for path in (
        f"/accounts/{owner}/balance",
        f"/accounts/{owner}/transactions",
        f"/accounts/{owner}/usage",
    ):
        answer = await client.get(path, headers=as_user(stranger))
        assert answer.status_code == 404, path
    answer = await client.put(
        f"/accounts/{owner}/settings", json={"low_balance_threshold": 5}, headers=as_user(stranger)
    )
    assert answer.status_code == 404


async def test_callers_and_tokens_are_checked(client):
    account = await open_with_credits(client, 100)
    assert (await client.get(f"/accounts/{account}/balance")).status_code == 401
    publishing = as_user(account, caller="publishing")
    assert (await client.get(f"/accounts/{account}/balance", headers=publishing)).status_code == 403
    automation = as_user(account, caller="automation")
    assert (await client.get(f"/accounts/{account}/balance", headers=automation)).status_code == 200
    assert (
        await client.get(f"/accounts/{account}/transactions", headers=automation)
    ).status_code == 403


async def test_transactions_paginate_with_a_cursor_and_filter_by_kind(client):
    account = await open_with_credits(client, 10)
    for i in range(4):
        await client.post(
            f"/accounts/{account}/grants",
            json={"credits": 1 + i, "kind": "paid"},
            headers={**as_admin(account), "Idempotency-Key": f"g{i}"},
        )
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "kind": "grant", **({"cursor": cursor} if cursor else {})}
        page = (
            await client.get(
                f"/accounts/{account}/transactions", params=params, headers=as_user(account)
            )
        ).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert [t["seq"] for t in seen] == sorted((t["seq"] for t in seen), reverse=True)
    assert all(sum(e["amount"] for e in t["entries"]) == 0 for t in seen)
    assert seen[0]["entries"][-1]["balance_after"] == 10 + 1 + 2 + 3 + 4


async def test_quotes_price_without_reserving_and_reject_unknown_operations(client):
    account = await open_with_credits(client, 100)
    answer = await client.post(
        "/quotes",
        json={
            "items": [
                {"operation": "content_generation", "quantity": 1001},
                {"operation": "image_generation", "quantity": 2},
            ]
        },
        headers=as_user(account, caller="automation"),
    )
    assert answer.status_code == 200
    assert answer.json()["credits"] == 11 + 10
    bad = await client.post(
        "/quotes",
        json={"items": [{"operation": "nope", "quantity": 1}]},
        headers=as_user(account, caller="automation"),
    )
    assert bad.status_code == 422
    assert "nope" in bad.json()["error"]["message"]
    balance = (await client.get(f"/accounts/{account}/balance", headers=as_user(account))).json()
    assert balance["held"] == 0


async def test_price_changes_need_platform_admin_and_apply_to_new_quotes(client):
    account = uuid.uuid4()
    body = {
        "prices": [
            {
                "operation": "linking",
                "unit": "per_request",
                "credits_per_unit": 3,
                "minimum_credits": 3,
            }
        ]
    }
    assert (await client.put("/costs", json=body, headers=as_user(account))).status_code == 403
    try:
        assert (await client.put("/costs", json=body, headers=as_admin(account))).status_code == 200
        costs = (await client.get("/costs", headers=as_user(account))).json()["prices"]
        assert next(p for p in costs if p["operation"] == "linking")["credits_per_unit"] == 3
    finally:
        restore = {
            "prices": [
                {
                    "operation": "linking",
                    "unit": "per_request",
                    "credits_per_unit": 2,
                    "minimum_credits": 2,
                }
            ]
        }
        await client.put("/costs", json=restore, headers=as_admin(account))
    bad = await client.put(
        "/costs",
        json={
            "prices": [
                {
                    "operation": "linking",
                    "unit": "per_week",
                    "credits_per_unit": 1,
                    "minimum_credits": 1,
                }
            ]
        },
        headers=as_admin(account),
    )
    assert bad.status_code == 422


async def test_platform_admin_from_automation_does_not_open_another_accounts_balance(client):
    """The balance route admits automation too; only the gateway's `platform_admin` passes the
    tenant check, so automation claiming the role for a foreign account gets a 404."""
    victim = await open_with_credits(client, 10)
    caller_account = uuid.uuid4()
    forged = as_user(caller_account, "platform_admin", caller="automation")
    assert (await client.get(f"/accounts/{victim}/balance", headers=forged)).status_code == 404
    honest = as_user(caller_account, "platform_admin")  # the gateway, for an operator
    assert (await client.get(f"/accounts/{victim}/balance", headers=honest)).status_code == 200


async def test_a_service_signing_as_the_gateway_with_its_own_key_is_refused(client):
    account = await open_with_credits(client, 10)
    automation_key = os.environ[private_key_variable("automation")]
    forged = auth_headers(automation_key, "gateway", "billing", account, ["platform_admin"])
    answer = await client.get(f"/accounts/{account}/balance", headers=forged)
    assert answer.status_code == 401


# ---------------------------------------------------------------- bad input (issue 12)


async def test_a_threshold_beyond_the_column_is_422_naming_the_field(client):
    account = await open_with_credits(client, 10)
    answer = await client.put(
        f"/accounts/{account}/settings",
        json={"low_balance_threshold": 99999999999999999999},
        headers=as_user(account),
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["param"] == "low_balance_threshold"
    assert answer.headers["x-request-id"] == error["request_id"]
    opened = await client.post(
        "/accounts",
        json={"account_id": str(account), "low_balance_threshold": 10**30},
        headers=as_user(account),
    )
    assert opened.status_code == 422


async def test_a_cursor_beyond_the_sequence_column_is_422_not_500(client):
    account = await open_with_credits(client, 10)
    answer = await client.get(
        f"/accounts/{account}/transactions",
        params={"cursor": "99999999999999999999999"},
        headers=as_user(account),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["param"] == "cursor"
    largest = await client.get(
        f"/accounts/{account}/transactions",
        params={"cursor": str(2**63 - 1)},
        headers=as_user(account),
    )
    assert largest.status_code == 200
    assert len(largest.json()["items"]) == 1


async def test_naive_datetimes_in_filters_are_refused(client):
    account = await open_with_credits(client, 10)
    answer = await client.get(
        f"/accounts/{account}/usage",
        params={"since": "2026-01-01T00:00:00"},
        headers=as_user(account),
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["param"] == "since"


async def test_transaction_pages_say_whether_more_follow(client):
    account = await open_with_credits(client, 10)
    path = f"/accounts/{account}/transactions"
    full = (await client.get(path, params={"limit": 1}, headers=as_user(account))).json()
    assert (full["has_more"], full["next_cursor"]) == (False, None)


async def test_put_replaces_settings_and_patch_merges_them(client):
    account = await open_with_credits(client, 10)
    path = f"/accounts/{account}/settings"
    put = await client.put(path, json={"low_balance_threshold": 7}, headers=as_user(account))
    assert put.json()["low_balance_threshold"] == 7
    untouched = await client.patch(path, json={}, headers=as_user(account))
    assert untouched.status_code == 200
    assert untouched.json()["low_balance_threshold"] == 7
    read = await client.get(path, headers=as_user(account))
    assert read.json() == {"account_id": str(account), "low_balance_threshold": 7}
    reset = await client.put(path, json={}, headers=as_user(account))
    assert reset.json()["low_balance_threshold"] is None
    patched = await client.patch(path, json={"low_balance_threshold": 3}, headers=as_user(account))
    assert patched.json()["low_balance_threshold"] == 3
    stranger = uuid.uuid4()
    assert (await client.patch(path, json={}, headers=as_user(stranger))).status_code == 404


async def test_usage_hides_the_providers_cost_from_customers_and_writes_decimals_plainly(
    client, billing
):
    """The AI provider's cost is the platform's, not the customer's (it was shown to account
    owners), and a zero cost read `0E-8`."""
    from billing.app import commands
    from billing.app.commit_credits import commit_credits

    account = await billing.open(1000)
    for cost, operation in (("0.00420000", "clustering"), ("0", "image_generation")):
        reservation = uuid.uuid4()
        await billing.reserve(account, (operation, 1), reservation=reservation)
        await billing.run(
            commit_credits,
            commands.CommitCredits(
                account, reservation, uuid.uuid4(), operation, 1,
                usage=commands.Usage("gpt-test", 10, 20, cost),
            ),
        )  # fmt: skip
    path = f"/accounts/{account}/usage"
    owner = (await client.get(path, headers=as_user(account, "owner"))).json()
    assert [r["key"] for r in owner["rows"]] == ["clustering", "image_generation"]
    assert all("provider_cost_usd" not in row for row in owner["rows"]), owner
    assert owner["rows"][0]["input_tokens"] == 10
    admin = (await client.get(path, headers=as_admin(account))).json()
    costs = {row["key"]: row["provider_cost_usd"] for row in admin["rows"]}
    assert costs == {"clustering": "0.0042", "image_generation": "0"}
    by_run = (await client.get(path, params={"group_by": "run"}, headers=as_user(account))).json()
    assert by_run["rows"][0]["key"] is None  # a null key is kept, only the cost is left out
