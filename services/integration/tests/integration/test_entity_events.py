"""Site and integration snapshots reach a consumer in another process over the real Kafka; out of
order they still end on the newest version."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from integration_support import RING, as_account
from snapshot_consumer import create_schema, known_integrations, known_sites

from igny8.contracts import TOPICS
from igny8.contracts.sites import SiteSnapshot
from igny8.db import create_engine
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, free_port, temporary_database, wait_until

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parents[1]


async def test_snapshots_reach_another_process_and_out_of_order_ends_on_the_newest(
    integration_db, postgres_admin_url, kafka_bootstrap, tmp_path
):
    await ensure_topics(kafka_bootstrap, TOPICS)
    async with temporary_database(postgres_admin_url, "snapshots") as consumer_db:
        await create_schema(consumer_db)
        consumer = ChildProcess(
            [
                sys.executable,
                str(HERE / "snapshot_consumer.py"),
                "--db",
                consumer_db,
                "--bootstrap",
                kafka_bootstrap,
                "--purpose",
                f"test-{uuid.uuid4().hex[:8]}",
            ],
            tmp_path / "consumer.log",
        )
        port = free_port()
        service = ChildProcess(
            [str(Path(sys.executable).parent / "integration"), "serve", "--port", str(port)],
            tmp_path / "integration.log",
            {
                "INTEGRATION_DATABASE_URL": integration_db,
                "INTEGRATION_CREDENTIAL_KEYS": RING,
                "INTEGRATION_MIGRATE_ON_START": "false",
            },
        )
        engine = create_engine(consumer_db, 2)
        try:
            consumer.wait_for_output("consumer started", 30)
            base = f"http://127.0.0.1:{port}"
            account = uuid.uuid4()
            async with httpx.AsyncClient(base_url=base, timeout=10) as client:
                for _ in range(200):
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                site = (
                    await client.post(
                        "/sites",
                        json={"name": "v1", "url": "https://a.example"},
                        headers=as_account(account),
                    )
                ).json()
                for name in ("v2", "v3"):
                    await client.patch(
                        f"/sites/{site['site_id']}",
                        json={"name": name},
                        headers=as_account(account),
                    )
                integration = (
                    await client.post(
                        f"/sites/{site['site_id']}/integrations",
                        json={
                            "platform": "shopify",
                            "base_url": "https://a.example",
                            "credentials": {"access_token": "shpat_x"},
                        },
                        headers=as_account(account),
                    )
                ).json()
                await client.delete(
                    f"/integrations/{integration['integration_id']}", headers=as_account(account)
                )

            async def row(table, key, value):
                async with engine.connect() as conn:
                    return (await conn.execute(sa.select(table).where(key == value))).first()

            async def site_at_v3() -> bool:
                found = await row(known_sites, known_sites.c.site_id, uuid.UUID(site["site_id"]))
                return found is not None and found.version == 3

            async def integration_removed() -> bool:
                found = await row(
                    known_integrations,
                    known_integrations.c.integration_id,
                    uuid.UUID(integration["integration_id"]),
                )
                return found is not None and found.deleted

            await wait_until(site_at_v3, 60, message="site snapshots did not arrive")
            await wait_until(
                integration_removed, 60, message="integration snapshots did not arrive"
            )
            assert (
                await row(known_sites, known_sites.c.site_id, uuid.UUID(site["site_id"]))
            ).name == "v3"

            # Out of order: the newest snapshot first, older ones after, across topics.
            other = uuid.uuid4()
            sent_ids = []
            producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
            await producer.start()
            try:
                for topic, version in (
                    ("site.updated", 3),
                    ("site.created", 1),
                    ("site.updated", 2),
                ):
                    snapshot = SiteSnapshot(
                        site_id=other,
                        account_id=account,
                        version=version,
                        name=f"v{version}",
                        url="https://b.example",
                    )
                    envelope = TOPICS.envelope(
                        topic, snapshot, source="integration", account_id=account, site_id=other
                    )
                    await producer.send_and_wait(
                        topic, envelope.to_bytes(), key=str(other).encode()
                    )
                    sent_ids.append(envelope.id)
            finally:
                await producer.stop()

            async def out_of_order_settled() -> bool:  # all three handled, the oldest last
                async with engine.connect() as conn:
                    handled = (
                        await conn.execute(
                            sa.text("SELECT count(*) FROM inbox WHERE message_id = ANY(:ids)"),
                            {"ids": sent_ids},
                        )
                    ).scalar()
                return handled == 3

            await wait_until(out_of_order_settled, 60, message=consumer.output()[-2000:])
            newest = await row(known_sites, known_sites.c.site_id, other)
            assert (newest.version, newest.name) == (3, "v3")
        finally:
            await engine.dispose()
            consumer.stop()
            service.stop()
