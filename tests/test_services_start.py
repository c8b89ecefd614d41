"""Every service starts as its own process, migrates its own database and answers its probes."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.contracts import TOPICS

from stack import SERVICES, wait_ready

pytestmark = pytest.mark.integration


async def test_every_service_starts_migrates_and_answers_health_and_readiness(finished_stack):
    # The shared finished stack started every service as its own process on a fresh database of
    # its own (one start-up for the whole session instead of one more here)
    s = finished_stack
    for name in SERVICES:
        base, process = s.urls[name], s.processes[name]
        ready = await wait_ready(base, process)
        assert ready == {
            "ready": True,
            "checks": {"database": True, "kafka": True, "consumers": True},
        }
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{base}/healthz")
            assert health.json() == {"status": "alive", "service": name}
            metrics = await client.get(f"{base}/metrics")
            assert "igny8_messages_consumed_total" in metrics.text
        engine = create_async_engine(s.env[f"{name.upper()}_DATABASE_URL"])
        async with engine.connect() as conn:
            tables = set(
                (
                    await conn.execute(
                        sa.text("SELECT tablename FROM pg_tables WHERE schemaname='public'")
                    )
                ).scalars()
            )
        await engine.dispose()
        assert {"outbox", "inbox", "alembic_version"} <= tables, name
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka)
    await admin.start()
    try:
        topics = set(await admin.list_topics())
    finally:
        await admin.close()
    for spec in TOPICS:
        assert spec.name in topics and spec.dlq in topics


async def test_readiness_reports_a_missing_database(postgres_admin_url, start_service):
    broken = postgres_admin_url.rsplit("/", 1)[0] + "/no_such_database"
    process, base = start_service(
        "gateway", {"GATEWAY_DATABASE_URL": broken, "GATEWAY_MIGRATE_ON_START": "false"}
    )
    async with httpx.AsyncClient() as client:
        for _ in range(150):
            try:
                answer = await client.get(f"{base}/readyz", timeout=5)
                break
            except httpx.HTTPError:
                import asyncio

                await asyncio.sleep(0.2)
        else:
            raise AssertionError(process.output()[-2000:])
        assert answer.status_code == 503
        assert answer.json()["checks"] == {"database": False, "kafka": True, "consumers": True}
        assert (await client.get(f"{base}/healthz")).status_code == 200
