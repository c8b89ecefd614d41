"""Integration's HTTP API on the real database: sites, integrations, tests, sync, isolation."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from integration_support import as_account

from igny8.platforms.testing import WordPressState, fake_wordpress

pytestmark = pytest.mark.integration
WP_CREDS = {"username": "editor", "application_password": "good pass"}


async def new_site(client, account) -> dict:
    answer = await client.post(
        "/sites",
        json={
            "name": "Garden blog",
            "url": "https://garden.example/",
            "sector": "home",
            "niche": "gardening",
        },
        headers=as_account(account),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def new_wordpress(client, account, site, base_url="https://garden.example") -> dict:
    answer = await client.post(
        f"/sites/{site['site_id']}/integrations",
        json={
            "platform": "wordpress",
            "base_url": base_url,
            "settings": {"default_status": "draft"},
            "credentials": WP_CREDS,
        },
        headers=as_account(account),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def outbox(engine, topic: str, site_id: str) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT value FROM outbox WHERE topic = :t AND key = :k ORDER BY id"),
            {"t": topic, "k": site_id.encode()},
        )
        return [json.loads(bytes(r.value)) for r in rows]


async def test_site_lifecycle_emits_versioned_snapshots(client, engine):
    account = uuid.uuid4()
    site = await new_site(client, account)
    assert site["url"] == "https://garden.example"
    patched = await client.patch(
        f"/sites/{site['site_id']}", json={"niche": "roses"}, headers=as_account(account)
    )
    assert patched.json()["version"] == 2
    assert (
        await client.delete(f"/sites/{site['site_id']}", headers=as_account(account))
    ).status_code == 204
    assert (
        await client.get(f"/sites/{site['site_id']}", headers=as_account(account))
    ).status_code == 404
    created = await outbox(engine, "site.created", site["site_id"])
    updated = await outbox(engine, "site.updated", site["site_id"])
    deleted = await outbox(engine, "site.deleted", site["site_id"])
    assert [e["data"]["version"] for e in created + updated + deleted] == [1, 2, 3]
    assert deleted[0]["data"]["deleted"] is True
    assert updated[0]["data"]["niche"] == "roses"


async def test_unknown_platform_is_422_naming_the_supported_ones(client):
    account = uuid.uuid4()
    site = await new_site(client, account)
    answer = await client.post(
        f"/sites/{site['site_id']}/integrations",
        json={"platform": "wix", "base_url": "https://x.example"},
        headers=as_account(account),
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["param"] == "platform"
    assert all(name in error["message"] for name in ("wordpress", "shopify", "static"))


async def test_credentials_are_masked_everywhere_and_encrypted_at_rest(client, engine):
    account = uuid.uuid4()
    site = await new_site(client, account)
    integration = await new_wordpress(client, account, site)
    assert integration["credentials"] == {
        "username": "********",
        "application_password": "********",
    }
    listed = (
        await client.get(f"/sites/{site['site_id']}/integrations", headers=as_account(account))
    ).json()
    assert "good pass" not in json.dumps(listed)
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.text("SELECT credentials FROM integrations WHERE integration_id = :i"),
                {"i": integration["integration_id"]},
            )
        ).scalar()
        events = (
            await conn.execute(sa.text("SELECT value FROM outbox WHERE topic LIKE 'integration.%'"))
        ).all()
    assert b"good pass" not in bytes(stored) and b"editor" not in bytes(stored)
    assert all(b"good pass" not in bytes(e.value) for e in events)


async def test_only_publishing_gets_decrypted_credentials(client):
    account = uuid.uuid4()
    site = await new_site(client, account)
    integration = await new_wordpress(client, account, site)
    path = f"/internal/integrations/{integration['integration_id']}/credentials"
    for caller in ("gateway", "automation", "billing", "integration"):
        assert (await client.get(path, headers=as_account(account, caller))).status_code == 403, (
            caller
        )
    assert (await client.get(path)).status_code == 401
    answer = await client.get(path, headers=as_account(account, "publishing"))
    assert answer.status_code == 200
    assert answer.json()["credentials"] == WP_CREDS
    other = await client.get(path, headers=as_account(uuid.uuid4(), "publishing"))
    assert other.status_code == 404


async def test_every_route_answers_404_for_another_accounts_objects(client):
    owner, stranger = uuid.uuid4(), uuid.uuid4()
    site = await new_site(client, owner)
    integration = await new_wordpress(client, owner, site)
    s, i = site["site_id"], integration["integration_id"]
    routes = [
        ("GET", f"/sites/{s}", None),
        ("PATCH", f"/sites/{s}", {"name": "x"}),
        ("DELETE", f"/sites/{s}", None),
        ("GET", f"/sites/{s}/integrations", None),
        (
            "POST",
            f"/sites/{s}/integrations",
            {"platform": "static", "base_url": "https://a.example"},
        ),
        ("GET", f"/sites/{s}/inventory", None),
        ("GET", f"/integrations/{i}", None),
        ("PATCH", f"/integrations/{i}", {"is_active": False}),
        ("DELETE", f"/integrations/{i}", None),
        ("POST", f"/integrations/{i}/test", None),
        ("POST", f"/integrations/{i}/sync", None),
        ("GET", f"/integrations/{i}/health", None),
    ]
    for method, path, body in routes:
        answer = await client.request(method, path, json=body, headers=as_account(stranger))
        assert answer.status_code == 404, (method, path, answer.status_code)
    listed = (await client.get("/sites", headers=as_account(stranger))).json()["items"]
    assert listed == []
    assert (await client.get(f"/sites/{s}", headers=as_account(owner))).status_code == 200


async def test_connection_test_failure_is_a_result_not_a_500(client):
    account = uuid.uuid4()
    site = await new_site(client, account)
    with fake_wordpress(WordPressState(app_passwords=False)) as (url, _):
        integration = await new_wordpress(client, account, site, url)
        answer = await client.post(
            f"/integrations/{integration['integration_id']}/test", headers=as_account(account)
        )
    assert answer.status_code == 200
    body = answer.json()
    assert (body["success"], body["reason"]) == (False, "application_passwords_disabled")
    assert body["checked_at"]
    health = (
        await client.get(
            f"/integrations/{integration['integration_id']}/health", headers=as_account(account)
        )
    ).json()
    assert health["last_test"]["reason"] == "application_passwords_disabled"
    assert health["health_score"] < 100


async def test_sync_fills_the_inventory_and_announces_the_delta_in_pages(client, engine):
    account = uuid.uuid4()
    site = await new_site(client, account)
    state = WordPressState(posts=230, tags=15, categories=4)
    with fake_wordpress(state) as (url, _):
        integration = await new_wordpress(client, account, site, url)
        path = f"/integrations/{integration['integration_id']}"
        assert (await client.post(f"{path}/test", headers=as_account(account))).json()[
            "success"
        ] is True
        first = (await client.post(f"{path}/sync", headers=as_account(account))).json()
        state.posts = 228  # two posts deleted on the site
        second = (await client.post(f"{path}/sync", headers=as_account(account))).json()
    assert (first["success"], first["added"]) == (True, 249)
    assert (second["added"], second["changed"], second["removed"]) == (0, 0, 2)
    pages = await outbox(engine, "site.synced", site["site_id"])
    first_pages = [p["data"] for p in pages if p["data"]["sync_id"] == first["sync_id"]]
    assert [p["page"] for p in first_pages] == [1, 2, 3]
    assert all(len(p["items"]) <= 100 for p in first_pages)
    assert sum(len(p["items"]) for p in first_pages) == 249
    removed = [
        i for p in pages if p["data"]["sync_id"] == second["sync_id"] for i in p["data"]["items"]
    ]
    assert {i["change"] for i in removed} == {"delete"} and len(removed) == 2
    inventory = (
        await client.get(
            f"/sites/{site['site_id']}/inventory",
            params={"kind": "post", "limit": 500},
            headers=as_account(account),
        )
    ).json()["items"]
    assert len(inventory) == 228
    health = (await client.get(f"{path}/health", headers=as_account(account))).json()
    assert health["health_score"] == 100 and health["sync_status"] == "synced"
    assert [r["kind"] for r in health["recent"]] == ["sync", "sync", "test"]


async def test_static_integration_checks_its_folder_inside_the_export_root(client, settings):
    account = uuid.uuid4()
    site = await new_site(client, account)
    (settings.static_root / str(account) / "garden").mkdir(parents=True)

    async def create(folder: str):
        return await client.post(
            f"/sites/{site['site_id']}/integrations",
            json={
                "platform": "static",
                "base_url": "https://garden.example",
                "settings": {"folder": folder},
            },
            headers=as_account(account),
        )

    ok = (await create("garden")).json()
    for escaping in ("../../etc", "/etc", "garden/../../x", ""):
        refused = await create(escaping)
        assert refused.status_code == 422, escaping
        assert "export root" in refused.text or "required" in refused.text
        assert str(settings.static_root) not in refused.text
    result = (
        await client.post(f"/integrations/{ok['integration_id']}/test", headers=as_account(account))
    ).json()
    assert result["success"] is True
    assert str(settings.static_root) not in json.dumps(result)
    moved = await client.patch(
        f"/integrations/{ok['integration_id']}",
        json={"settings": {"folder": "../outside"}},
        headers=as_account(account),
    )
    assert moved.status_code == 422


async def test_a_missing_static_folder_is_reported_without_server_paths(client, settings):
    account = uuid.uuid4()
    site = await new_site(client, account)
    created = await client.post(
        f"/sites/{site['site_id']}/integrations",
        json={
            "platform": "static",
            "base_url": "https://g.example",
            "settings": {"folder": "nope"},
        },
        headers=as_account(account),
    )
    result = (
        await client.post(
            f"/integrations/{created.json()['integration_id']}/test", headers=as_account(account)
        )
    ).json()
    assert (result["success"], result["reason"]) == (False, "missing_folder")
    assert "'nope'" in result["detail"]
    assert str(settings.static_root) not in json.dumps(result)


async def test_an_unknown_timezone_is_refused_at_creation_and_on_change(client):
    account = uuid.uuid4()
    answer = await client.post(
        "/sites",
        json={"name": "Mars", "url": "https://mars.example", "timezone": "Mars/Olympus"},
        headers=as_account(account),
    )
    assert answer.status_code == 422
    assert "Mars/Olympus" in answer.json()["error"]["message"]
    site = await new_site(client, account)
    for bad in ("Mars/Olympus", "../../etc/passwd", "localtime"):
        patched = await client.patch(
            f"/sites/{site['site_id']}", json={"timezone": bad}, headers=as_account(account)
        )
        assert patched.status_code == 422, bad
    good = await client.patch(
        f"/sites/{site['site_id']}", json={"timezone": "Europe/Paris"}, headers=as_account(account)
    )
    assert good.json()["timezone"] == "Europe/Paris"


async def test_patching_settings_merges_them(client):
    account = uuid.uuid4()
    site = await new_site(client, account)
    integration = await new_wordpress(client, account, site)
    path = f"/integrations/{integration['integration_id']}"
    merged = await client.patch(
        path, json={"settings": {"category": "news"}}, headers=as_account(account)
    )
    assert merged.json()["settings"] == {"default_status": "draft", "category": "news"}
    removed = await client.patch(
        path, json={"settings": {"default_status": None}}, headers=as_account(account)
    )
    assert removed.json()["settings"] == {"category": "news"}


async def test_site_lists_say_whether_more_follow_and_huge_offsets_are_422(client):
    account = uuid.uuid4()
    for _ in range(3):
        await new_site(client, account)
    first = (await client.get("/sites", params={"limit": 2}, headers=as_account(account))).json()
    assert (len(first["items"]), first["has_more"]) == (2, True)
    rest = (
        await client.get("/sites", params={"limit": 2, "offset": 2}, headers=as_account(account))
    ).json()
    assert (len(rest["items"]), rest["has_more"]) == (1, False)
    huge = await client.get(
        "/sites", params={"offset": "99999999999999999999"}, headers=as_account(account)
    )
    assert huge.status_code == 422
