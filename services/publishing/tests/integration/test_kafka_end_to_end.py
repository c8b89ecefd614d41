"""The publishing process over Kafka: snapshots and an article arrive on their topics, the
scheduler (one replica, igny8.periodic) publishes to a static export with images fetched from
automation's internal endpoint, and `publication.scheduled|completed` go out on the bus."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from publishing_support import PNG, Driver

from igny8.auth import verify_service_token
from igny8.contracts import TOPICS
from igny8.contracts.publications import InventoryItemSnapshot
from igny8.contracts.sites import IntegrationSnapshot, SiteSnapshot
from igny8.db import create_engine, migrations
from igny8.messaging import ensure_topics
from igny8.platforms.testing import serve
from igny8.service_keys import PUBLIC_KEYS_ENV
from igny8.testing import ChildProcess, free_port, temporary_database, topic_records, wait_until
from publishing.adapters.sqlalchemy_tables import known_integrations, publications
from publishing.bootstrap import SERVICE_ROOT

pytestmark = pytest.mark.integration


def automation_images(seen: list[str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            token = (self.headers.get("Authorization") or "")[7:]
            try:
                caller = verify_service_token(os.environ[PUBLIC_KEYS_ENV], token, "automation")
            except Exception:
                caller = None
            if caller != "publishing" or not self.headers.get("X-Account-Id"):
                self.send_response(401)
                self.end_headers()
                return
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

    return Handler


async def test_an_article_on_the_bus_is_published_and_announced(
    postgres_admin_url, kafka_bootstrap, tmp_path
):
    await ensure_topics(kafka_bootstrap, TOPICS)
    seen: list[str] = []
    async with temporary_database(postgres_admin_url, "publishing_e2e") as db:
        await asyncio.to_thread(migrations.upgrade, SERVICE_ROOT, db)
        engine = create_engine(db, 2)
        with serve(automation_images(seen)) as automation:
            env = {
                "PUBLISHING_DATABASE_URL": db,
                "PUBLISHING_HTTP_PORT": str(free_port()),
                "PUBLISHING_MIGRATE_ON_START": "false",
                "PUBLISHING_STATIC_ROOT": str(tmp_path / "exports"),
                "PUBLISHING_AUTOMATION_URL": automation,
                "PUBLISHING_SCHEDULER_TICK_S": "0.3",
                "PUBLISHING_CONSUMER_SESSION_TIMEOUT_MS": "6000",
            }
            binary = str(Path(sys.executable).parent / "publishing")
            process = ChildProcess([binary, "serve"], tmp_path / "publishing.log", env)
            try:
                account, site, integration = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
                producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
                await producer.start()

                async def send(topic, payload, source="integration"):
                    envelope = TOPICS.envelope(
                        topic, payload, source=source, account_id=account, site_id=site
                    )
                    await producer.send_and_wait(
                        topic, envelope.to_bytes(), key=TOPICS[topic].key_of(envelope)
                    )

                try:
                    await send(
                        "site.created",
                        SiteSnapshot(
                            site_id=site,
                            account_id=account,
                            version=1,
                            name="Garden",
                            url="https://garden.example.com",
                        ),
                    )
                    await send(
                        "integration.connected",
                        IntegrationSnapshot(
                            integration_id=integration,
                            site_id=site,
                            account_id=account,
                            version=1,
                            platform="static",
                            base_url="file:",
                            settings={"folder": "garden"},
                        ),
                    )
                    await send(
                        "inventory.item",
                        InventoryItemSnapshot(
                            item_id=InventoryItemSnapshot.key_for(integration, "post", "old.md"),
                            integration_id=integration,
                            site_id=site,
                            account_id=account,
                            version=1,
                            kind="post",
                            remote_id="old.md",
                            title="Leaf mould basics",
                            url="https://garden.example.com/leaf-mould",
                        ),
                    )

                    async def integration_known():
                        async with engine.connect() as conn:
                            return await conn.scalar(
                                sa.select(sa.func.count()).where(
                                    known_integrations.c.integration_id == integration
                                )
                            )

                    await wait_until(integration_known, timeout=60)
                    content = Driver(engine, None).content(site, slug="compost-bins-guide")
                    content = content.model_copy(
                        update={
                            "images": [
                                i.model_copy(update={"url": f"{automation}/images/{n}"})
                                for n, i in enumerate(content.images)
                            ]
                        }
                    )
                    await send("content.ready", content, source="automation")
                finally:
                    await producer.stop()

                async def published():
                    async with engine.connect() as conn:
                        return (
                            await conn.scalar(
                                sa.select(publications.c.status).where(
                                    publications.c.content_id == content.content_id
                                )
                            )
                            == "published"
                        )

                await wait_until(published, timeout=90, message=process.output()[-3000:])
                page = tmp_path / "exports" / str(account) / "garden" / "compost-bins-guide.md"
                assert page.exists()
                assert "](https://garden.example.com/leaf-mould)" in page.read_text()
                assert sorted(seen) == ["/images/0", "/images/1"]

                async def announced():
                    records = await topic_records(kafka_bootstrap, "publication.completed")
                    return [
                        json.loads(r.value)
                        for r in records
                        if json.loads(r.value)["site_id"] == str(site)
                    ]

                await wait_until(announced, timeout=60)
                [event] = await announced()
                assert event["data"]["remote_id"] == "compost-bins-guide.md"
                assert event["data"]["content_id"] == str(content.content_id)
                assert event["source"] == "publishing"
            finally:
                process.stop()
                await engine.dispose()
