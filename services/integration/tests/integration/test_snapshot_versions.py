"""Snapshot versions strictly increase per integration, across topics, even when a site is deleted
while its integration's sync records its outcome (consumers keeping the newest would otherwise
drop one of two snapshots carrying the same version)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import sqlalchemy as sa
from integration_support import as_account

from igny8.db import session_factory
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.integrations import get_integration, record_outcome
from integration.app.sites import delete_site
from integration.ports import SyncRecord

pytestmark = pytest.mark.integration


async def snapshot_versions(engine, integration_id: str) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT topic, value FROM outbox WHERE topic LIKE 'integration.%' ORDER BY id")
        )
        found = [(r.topic, json.loads(bytes(r.value))["data"]) for r in rows]
    return [(t, d["version"]) for t, d in found if d["integration_id"] == integration_id]


async def test_deleting_a_site_while_its_integration_records_a_sync_keeps_versions_increasing(
    client, engine
):
    account = uuid.uuid4()
    me = as_account(account)
    site = (
        await client.post("/sites", json={"name": "s", "url": "https://s.example"}, headers=me)
    ).json()
    created = (
        await client.post(
            f"/sites/{site['site_id']}/integrations",
            json={
                "platform": "static",
                "base_url": "https://s.example",
                "settings": {"folder": "x"},
            },
            headers=me,
        )
    ).json()
    iid = uuid.UUID(created["integration_id"])
    sessions = session_factory(engine)

    async def delete_the_site() -> None:
        async with IntegrationUnitOfWork(sessions) as uow:
            await delete_site(account, uuid.UUID(site["site_id"]), uow)
            await uow.commit()

    async with IntegrationUnitOfWork(sessions) as syncing:
        integration = await get_integration(account, iid, syncing)
        record = SyncRecord(uuid.uuid4(), iid, account, "sync", False, "timeout", "slow site")
        await record_outcome(integration, record, syncing)
        deleting = asyncio.create_task(delete_the_site())
        await asyncio.sleep(0.5)  # the deletion reaches the integration while the sync holds it
        await syncing.commit()
    await deleting

    versions = await snapshot_versions(engine, str(iid))
    assert [t for t, _ in versions][-1] == "integration.removed"
    numbers = [v for _, v in versions]
    assert numbers == sorted(set(numbers)), f"versions must strictly increase: {versions}"
