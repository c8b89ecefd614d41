"""`integration.*` topics are compacted per integration (DESIGN §3): a consumer that reads them
from the start after compaction still ends with every integration's newest snapshot."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from integration_support import as_account

from igny8.contracts import TOPICS
from igny8.messaging.topics import topic_definitions

pytestmark = pytest.mark.integration
INTEGRATION_TOPICS = [s.name for s in TOPICS if s.name.startswith("integration.")]


def test_integration_topics_are_compacted_and_keyed_by_integration() -> None:
    assert len(INTEGRATION_TOPICS) == 4
    for spec in TOPICS:
        if spec.name in INTEGRATION_TOPICS:
            assert (spec.key, spec.cleanup_policy, spec.retention_ms) == (
                "integration_id",
                "compact",
                None,
            )
    configs = {t.name: t.topic_configs for t in topic_definitions(TOPICS)}
    assert all(configs[name]["cleanup.policy"] == "compact" for name in INTEGRATION_TOPICS)


async def test_a_consumer_reading_compacted_topics_from_the_start_ends_on_the_newest(
    client, engine
):
    account = uuid.uuid4()
    me = as_account(account)
    site = (
        await client.post("/sites", json={"name": "s", "url": "https://s.example"}, headers=me)
    ).json()
    ids = []
    for n in range(3):  # three integrations of one site: one key each, not one for the site
        answer = await client.post(
            f"/sites/{site['site_id']}/integrations",
            json={
                "platform": "static",
                "base_url": f"https://s{n}.example",
                "settings": {"folder": "x"},
            },
            headers=me,
        )
        ids.append(answer.json()["integration_id"])
    for n in range(4):
        await client.patch(
            f"/integrations/{ids[0]}", json={"settings": {"folder": f"v{n}"}}, headers=me
        )
    await client.patch(f"/integrations/{ids[1]}", json={"sync_enabled": False}, headers=me)
    await client.delete(f"/integrations/{ids[2]}", headers=me)

    # The outbox in the order the relay publishes it, compacted as Kafka does: the last record
    # per key in each topic.
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text("SELECT topic, key, value FROM outbox WHERE topic = ANY(:t) ORDER BY id"),
                {"t": INTEGRATION_TOPICS},
            )
        ).all()
    mine = [r for r in rows if json.loads(bytes(r.value))["account_id"] == str(account)]
    compacted = {(r.topic, bytes(r.key)): json.loads(bytes(r.value))["data"] for r in mine}
    assert {key.decode() for _, key in compacted} == set(ids)

    newest: dict[str, dict] = {}  # a keep-newest consumer reading every topic from the start
    for data in compacted.values():
        if data["version"] > newest.get(data["integration_id"], {"version": 0})["version"]:
            newest[data["integration_id"]] = data
    current = {i: (await client.get(f"/integrations/{i}", headers=me)) for i in ids[:2]}
    assert newest[ids[0]]["settings"] == {"folder": "v3"}
    assert newest[ids[0]]["version"] == current[ids[0]].json()["version"]
    assert newest[ids[1]]["sync_enabled"] is False
    assert newest[ids[1]]["version"] == current[ids[1]].json()["version"]
    assert newest[ids[2]]["deleted"] is True
