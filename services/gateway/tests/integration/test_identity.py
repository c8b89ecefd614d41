"""Accounts with their owner (billing opened idempotently), members and roles, API keys."""

from __future__ import annotations

import uuid

import pytest
from gateway_support import as_user

pytestmark = pytest.mark.integration


async def test_creating_an_account_makes_the_caller_owner_and_opens_billing(gateway):
    account = uuid.uuid4()
    body = {"name": "Acme", "account_id": str(account)}
    first = await gateway.post("/v1/accounts", json=body, headers=as_user("ann"))
    assert first.status_code == 201, first.text
    assert first.json()["billing_opened"] is True and first.json()["created"] is True
    again = await gateway.post("/v1/accounts", json=body, headers=as_user("ann"))
    assert again.status_code == 201 and again.json()["created"] is False
    taken = await gateway.post("/v1/accounts", json=body, headers=as_user("bob"))
    assert taken.status_code == 409
    balance = await gateway.get("/v1/credits/balance", headers=as_user("ann", account))
    assert balance.status_code == 200, balance.text
    me = (await gateway.get("/v1/me", headers=as_user("ann"))).json()
    assert {"account_id": str(account), "name": "Acme", "role": "owner"} in me["accounts"]


async def test_roles_decide_what_members_may_do(gateway, new_account):
    owner, account = await new_account()
    for user, role in (("vic", "viewer"), ("eve", "editor"), ("ada", "admin")):
        put = await gateway.put(
            f"/v1/members/{user}-{account}", json={"role": role}, headers=as_user(owner, account)
        )
        assert put.status_code == 200, put.text
    viewer = as_user(f"vic-{account}", account)
    editor = as_user(f"eve-{account}", account)
    admin = as_user(f"ada-{account}", account)
    assert (await gateway.get("/v1/sites", headers=viewer)).status_code == 200
    refused = await gateway.post("/v1/sites", json={"name": "x"}, headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "permission_error"
    assert (await gateway.post("/v1/sites", json={}, headers=editor)).status_code == 403
    site = await gateway.post(
        "/v1/sites", json={"name": "Blog", "url": "https://blog.example"}, headers=admin
    )
    assert site.status_code == 201, site.text
    # admins manage editors and viewers, never owners and admins
    promote = await gateway.put(f"/v1/members/eve-{account}", json={"role": "owner"}, headers=admin)
    assert promote.status_code == 403
    assert (await gateway.get("/v1/api-keys", headers=editor)).status_code == 403
    # the last owner stays
    last = await gateway.delete(f"/v1/members/{owner}", headers=as_user(owner, account))
    assert last.status_code == 409


async def test_api_keys_are_shown_once_scoped_and_revocable(gateway, new_account):
    owner, account = await new_account()
    made = await gateway.post(
        "/v1/api-keys", json={"name": "ci", "scope": "read"}, headers=as_user(owner, account)
    )
    assert made.status_code == 201, made.text
    secret = made.json()["secret"]
    assert secret.startswith(made.json()["prefix"] + "_")
    key = {"Authorization": f"Bearer {secret}"}
    assert (await gateway.get("/v1/sites", headers=key)).status_code == 200
    assert (await gateway.post("/v1/sites", json={}, headers=key)).status_code == 403
    listed = (await gateway.get("/v1/api-keys", headers=as_user(owner, account))).json()["items"]
    assert listed[0]["last_used_at"] is not None
    assert secret not in str(listed)
    key_id = made.json()["key_id"]
    revoked = await gateway.delete(f"/v1/api-keys/{key_id}", headers=as_user(owner, account))
    assert revoked.status_code == 204
    after = await gateway.get("/v1/sites", headers=key)
    assert after.status_code == 401 and after.json()["error"]["code"] == "api_key_revoked"


async def test_a_membership_removed_on_another_replica_stops_working_within_the_cache_ttl(
    make_gateway, new_account
):
    """Two gateway replicas share the database; each remembers admitted members for
    `access_cache_s`. A removal through one replica is refused there at once and on the other
    once its memory expired; a member added is admitted at once (refusals are not cached)."""
    import asyncio

    owner, account = await new_account()
    ttl = 0.5
    async with (
        await make_gateway(access_cache_s=ttl) as one,
        await make_gateway(access_cache_s=ttl) as other,
    ):
        member = as_user(f"kim-{account}", account)
        assert (await other.get("/v1/members", headers=member)).status_code == 403
        put = await one.put(
            f"/v1/members/kim-{account}", json={"role": "viewer"}, headers=as_user(owner, account)
        )
        assert put.status_code == 200, put.text
        assert (await other.get("/v1/members", headers=member)).status_code == 200
        assert (await one.get("/v1/members", headers=member)).status_code == 200
        removed = await one.delete(f"/v1/members/kim-{account}", headers=as_user(owner, account))
        assert removed.status_code == 204
        refused = await one.get("/v1/members", headers=member)
        assert refused.status_code == 403, "the replica that removed the member forgets at once"
        await asyncio.sleep(ttl + 0.1)
        late = await other.get("/v1/members", headers=member)
        assert late.status_code == 403, "the other replica refuses once its memory expired"
        assert late.json()["error"]["code"] == "not_a_member"


async def test_a_key_revoked_on_another_replica_stops_working_within_the_cache_ttl(
    make_gateway, new_account
):
    import asyncio

    owner, account = await new_account()
    ttl = 0.5
    async with (
        await make_gateway(access_cache_s=ttl) as one,
        await make_gateway(access_cache_s=ttl) as other,
    ):
        made = await one.post(
            "/v1/api-keys", json={"name": "ci", "scope": "read"}, headers=as_user(owner, account)
        )
        key = {"Authorization": f"Bearer {made.json()['secret']}"}
        assert (await other.get("/v1/members", headers=key)).status_code == 200
        elsewhere = {**key, "X-Account-Id": str(uuid.uuid4())}
        assert (await other.get("/v1/members", headers=elsewhere)).status_code == 403
        revoked = await one.delete(
            f"/v1/api-keys/{made.json()['key_id']}", headers=as_user(owner, account)
        )
        assert revoked.status_code == 204
        await asyncio.sleep(ttl + 0.1)
        after = await other.get("/v1/members", headers=key)
        assert after.status_code == 401 and after.json()["error"]["code"] == "api_key_revoked"
