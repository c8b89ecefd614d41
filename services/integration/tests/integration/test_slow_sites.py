"""A site that answers slowly or never holds no database connection or row lock: its integration
can be edited while a sync or a connection test waits on it, and the sync is bounded in time."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from integration_support import as_account

from igny8.platforms.testing import SlowState, fake_slow_site

pytestmark = pytest.mark.integration
WP = {"username": "editor", "application_password": "pass"}


async def wordpress_at(client, account, url) -> str:
    me = as_account(account)
    site = (await client.post("/sites", json={"name": "s", "url": url}, headers=me)).json()
    answer = await client.post(
        f"/sites/{site['site_id']}/integrations",
        json={"platform": "wordpress", "base_url": url, "credentials": WP},
        headers=me,
    )
    return answer.json()["integration_id"]


@pytest.mark.parametrize("action", ["sync", "test"])
async def test_a_site_that_does_not_answer_blocks_no_edit_and_holds_no_connection(
    client, engine, action
):
    account = uuid.uuid4()
    me = as_account(account)
    with fake_slow_site(SlowState(hold_s=30)) as (url, slow):
        integration_id = await wordpress_at(client, account, url)
        remote = asyncio.create_task(
            client.post(f"/integrations/{integration_id}/{action}", headers=me)
        )
        while not slow.arrived.is_set():  # the call is now waiting on the site
            await asyncio.sleep(0.02)
        assert engine.pool.checkedout() == 0, "a database connection is held across the call"
        edited = await asyncio.wait_for(
            client.patch(
                f"/integrations/{integration_id}", json={"sync_enabled": False}, headers=me
            ),
            10,
        )
        assert edited.status_code == 200
        assert not remote.done(), "the edit waited for the site"
        slow.release.set()
        answer = await remote
    assert answer.status_code == 200
    assert answer.json()["success"] is False  # the root answered `{}`: no REST API there


async def test_a_sync_is_cut_off_after_its_time_budget(client, engine, settings):
    account = uuid.uuid4()
    with fake_slow_site(SlowState(drip=True)) as (url, _):
        integration_id = await wordpress_at(client, account, url)
        answer = await asyncio.wait_for(
            client.post(f"/integrations/{integration_id}/sync", headers=as_account(account)), 30
        )
    assert answer.json()["reason"] == "timeout"
    assert settings.sync_max_seconds <= 3
