"""Inventory items as versioned snapshots on the compacted `inventory.item` topic (keyed per
item): every added, changed and removed item of a sync, deletions as `deleted: true`, versions that
grow from one sync to the next — what a late consumer (publishing) rebuilds the inventory from."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from integration_support import as_account

from igny8.platforms.testing import WordPressState, fake_wordpress

pytestmark = pytest.mark.integration


async def test_a_sync_emits_one_snapshot_per_changed_item(client, engine):
    account = uuid.uuid4()
    site = (
        await client.post(
            "/sites",
            json={"name": "Garden", "url": "https://garden.example/"},
            headers=as_account(account),
        )
    ).json()
    state = WordPressState(posts=3, tags=1, categories=1)
    with fake_wordpress(state) as (url, _):
        integration = (
            await client.post(
                f"/sites/{site['site_id']}/integrations",
                json={
                    "platform": "wordpress",
                    "base_url": url,
                    "credentials": {"username": "editor", "application_password": "good pass"},
                },
                headers=as_account(account),
            )
        ).json()
        path = f"/integrations/{integration['integration_id']}"
        await client.post(f"{path}/test", headers=as_account(account))
        assert (await client.post(f"{path}/sync", headers=as_account(account))).json()["success"]
        state.posts = 2
        assert (await client.post(f"{path}/sync", headers=as_account(account))).json()[
            "removed"
        ] == 1
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT key, value FROM outbox WHERE topic = 'inventory.item' ORDER BY id")
            )
        ).all()
    ours = [
        (bytes(r.key).decode(), json.loads(bytes(r.value)))
        for r in rows
        if json.loads(bytes(r.value))["data"]["integration_id"] == integration["integration_id"]
    ]
    assert len(ours) == 5 + 1  # 3 posts, 1 tag, 1 category; then the removed post
    for key, envelope in ours:
        data = envelope["data"]
        assert (
            key == data["item_id"] == f"{data['integration_id']}:{data['kind']}:{data['remote_id']}"
        )
        assert data["site_id"] == site["site_id"] and envelope["account_id"] == str(account)
    *first, removal = ours
    assert removal[1]["data"]["deleted"] is True
    assert removal[1]["data"]["version"] > first[0][1]["data"]["version"]
    assert {e["data"]["kind"] for _, e in first} == {"post", "tag", "category"}
