"""The /v1 route table: tenant isolation on every route with an id, role checks on every route,
Idempotency-Key on creating POSTs, and upstream failures as 502/503/504 with `retryable`."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from gateway_support import as_user

from gateway.domain.model import RANK, Role
from gateway.entrypoints.routes import ROUTES

pytestmark = pytest.mark.integration
PARAM = re.compile(r"{(\w+)}")
RUNNING = {"billing", "integration", "automation"}  # publishing is not started here


def fill(path: str, ids: dict[str, str]) -> str:
    return PARAM.sub(lambda m: ids.get(m.group(1), str(uuid.uuid4())), path)


async def members_with_roles(gateway, new_account):  # type: ignore[no-untyped-def]
    owner, account = await new_account()
    users = {"owner": owner}
    for role in ("admin", "editor", "viewer"):
        user = f"{role}-{uuid.uuid4().hex[:6]}"
        put = await gateway.put(
            f"/v1/members/{user}", json={"role": role}, headers=as_user(owner, account)
        )
        assert put.status_code == 200, put.text
        users[role] = user
    return account, users


async def test_another_accounts_objects_are_404_on_every_route_with_an_id(gateway, new_account):
    owner_a, account_a = await new_account()
    owner_b, account_b = await new_account()
    site = await gateway.post(
        "/v1/sites",
        json={"name": "Secret garden", "url": "https://garden.example"},
        headers=as_user(owner_a, account_a),
    )
    assert site.status_code == 201, site.text
    ids = {"site_id": site.json()["site_id"]}
    own = await gateway.get(f"/v1/sites/{ids['site_id']}", headers=as_user(owner_a, account_a))
    assert own.status_code == 200 and own.json()["name"] == "Secret garden"
    checked = 0
    for route in ROUTES:
        if route.public or route.service not in RUNNING or not PARAM.search(route.path):
            continue
        answer = await gateway.request(
            route.method,
            "/v1" + fill(route.path, ids),
            json={} if route.body else None,
            headers=as_user(owner_b, account_b),
        )
        assert "Secret garden" not in answer.text
        if route.body and answer.status_code in (400, 422):
            continue  # the empty body is refused before any lookup: nothing is revealed
        assert answer.status_code == 404, (route.method, route.path, answer.text)
        assert answer.json()["error"]["type"] == "invalid_request_error"
        checked += 1
    assert checked >= 35


@pytest.mark.parametrize("role", ["viewer", "editor", "admin", "owner"])
async def test_each_role_gets_403_exactly_on_the_routes_above_it(gateway, new_account, role):
    account, users = await members_with_roles(gateway, new_account)
    headers = as_user(users[role], account)
    for route in ROUTES:
        if route.public:
            continue
        answer = await gateway.request(
            route.method,
            "/v1" + fill(route.path, {}),
            json={} if route.body else None,
            headers=headers,
        )
        above = route.platform or RANK[route.role] > RANK[Role(role)]
        if above:
            assert answer.status_code == 403, (role, route.method, route.path, answer.text)
        else:
            assert answer.status_code != 403, (role, route.method, route.path, answer.text)
            assert answer.status_code < 500 or answer.status_code in (502, 503, 504)


async def test_a_services_422_keeps_its_per_field_reasons_through_the_gateway(gateway, new_account):
    owner, account = await new_account()
    refused = await gateway.post(
        "/v1/sites", json={"name": 123, "url": 5}, headers=as_user(owner, account)
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["request_id"] == refused.headers["x-request-id"]
    assert {e["param"] for e in error["errors"]} == {"name", "url"}, error


async def test_a_json_body_without_its_content_type_is_415_with_a_request_id(gateway, new_account):
    """Forwarded routes and the gateway's own alike (both answered 422 before)."""
    owner, account = await new_account()
    body = b'{"name": "My blog", "url": "https://blog.example"}'
    for path, headers in (
        ("/v1/sites", as_user(owner, account)),  # forwarded to integration
        ("/v1/accounts", as_user(owner)),  # the gateway's own
    ):
        for media in (None, "application/x-www-form-urlencoded"):
            sent = {**headers, **({"Content-Type": media} if media else {})}
            refused = await gateway.post(path, content=body, headers=sent)
            assert refused.status_code == 415, (path, media, refused.text)
            error = refused.json()["error"]
            assert error["code"] == "unsupported_media_type", error
            assert error["request_id"] == refused.headers["x-request-id"]
    sites = await gateway.get("/v1/sites", headers=as_user(owner, account))
    assert sites.json()["items"] == []  # nothing was made


async def test_a_repeated_idempotency_key_replays_and_a_reused_one_conflicts(gateway, new_account):
    owner, account = await new_account()
    headers = {**as_user(owner, account), "Idempotency-Key": "site-1"}
    body = {"name": "Once", "url": "https://once.example"}
    first = await gateway.post("/v1/sites", json=body, headers=headers)
    again = await gateway.post("/v1/sites", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await gateway.post("/v1/sites", json={**body, "name": "Twice"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    sites = (await gateway.get("/v1/sites", headers=as_user(owner, account))).json()["items"]
    assert [s["name"] for s in sites] == ["Once"]
    # keys are per account: another account's same key is its own request
    owner_b, account_b = await new_account()
    theirs = await gateway.post(
        "/v1/sites", json=body, headers={**as_user(owner_b, account_b), "Idempotency-Key": "site-1"}
    )
    assert theirs.status_code == 201 and theirs.json()["site_id"] != first.json()["site_id"]


def failing(kind: str) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if kind == "timeout":
            raise httpx.ReadTimeout("slow", request=request)
        if kind == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(500, text="Internal Server Error")

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(("kind", "status"), [("timeout", 504), ("refused", 503), ("500", 502)])
async def test_upstream_failures_are_retryable_5xx_never_500(make_gateway, kind, status):
    base = await make_gateway()
    async with base:
        owner = f"u-{uuid.uuid4().hex[:6]}"
        made = await base.post("/v1/accounts", json={"name": "A"}, headers=as_user(owner))
        account = made.json()["account_id"]
    broken = await make_gateway(mounts_extra={"http://integration": failing(kind)})
    async with broken:
        answer = await broken.get("/v1/sites", headers=as_user(owner, account))
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["retryable"] is True and error["type"] == "upstream_error"
    assert answer.headers["retry-after"]
    assert answer.headers["x-request-id"] == error["request_id"]


def closing_once() -> tuple[httpx.MockTransport, list[str]]:
    """A service that closes the first connection without answering (a kept-alive connection
    reused as its idle timeout closed it), then answers."""
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"items": [], "has_more": False, "next_cursor": None})

    return httpx.MockTransport(handle), calls


async def test_a_read_is_retried_once_when_the_service_closed_a_kept_alive_connection(
    make_gateway,
):
    base = await make_gateway()
    async with base:
        owner = f"u-{uuid.uuid4().hex[:6]}"
        made = await base.post("/v1/accounts", json={"name": "A"}, headers=as_user(owner))
        account = made.json()["account_id"]
    transport, calls = closing_once()
    client = await make_gateway(mounts_extra={"http://integration": transport})
    async with client:
        answer = await client.get("/v1/sites", headers=as_user(owner, account))
        assert answer.status_code == 200, answer.text
        assert calls == ["GET", "GET"]
    transport, calls = closing_once()
    client = await make_gateway(mounts_extra={"http://integration": transport})
    async with client:  # a create may have been applied: never sent twice
        answer = await client.post(
            "/v1/sites",
            json={"name": "Blog", "url": "https://blog.example"},
            headers=as_user(owner, account),
        )
        assert answer.status_code == 503
        assert answer.json()["error"]["retryable"] is True
        assert calls == ["POST"]


async def test_the_stripe_webhook_reaches_billing_byte_for_byte_without_a_user_token(make_gateway):
    seen: list[httpx.Request] = []

    def billing(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"received": True})

    raw = b'{\n  "id": "evt_1",   "type": "invoice.paid" ,"data":{"object":{}}}\n'
    signature = "t=1700000000,v1=abc123"
    client = await make_gateway(mounts_extra={"http://billing": httpx.MockTransport(billing)})
    async with client:
        answer = await client.post(
            "/v1/webhooks/stripe",
            content=raw,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
    assert answer.status_code == 200 and answer.json() == {"received": True}
    (forwarded,) = seen
    assert forwarded.url.path == "/webhooks/stripe"
    assert forwarded.content == raw
    assert forwarded.headers["stripe-signature"] == signature
    assert forwarded.headers["content-type"] == "application/json"
