"""At shutdown the gateway closes everything it opened: its main engine, the second engine of its
single-statement reads (rate limit, stream fan-out), the stream hub's listener and its HTTP client.
The second engine was never disposed: its pooled connections stayed open on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from gateway_support import as_user, settings_for

from gateway.bootstrap import SERVICE_ROOT, bootstrap
from igny8.db import create_engine
from igny8.runtime import create_app
from igny8.testing import migrated_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_db(postgres_admin_url: str) -> Iterator[str]:
    """A database of its own: its connections are this test's only."""
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "gateway_shutdown")


async def backends(admin_url: str, database_url: str) -> int:
    name = sa.make_url(database_url).database
    admin = create_engine(admin_url, 1)
    try:
        async with admin.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                        {"d": name},
                    )
                ).scalar_one()
            )
    finally:
        await admin.dispose()


async def test_shutdown_closes_every_connection_the_gateway_opened(own_db, postgres_admin_url):
    service = bootstrap(settings_for(own_db))
    app = create_app(service)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client:
            # a rate-limited request: the bucket's take runs on the single-statement engine
            answer = await client.get("/v1/me", headers=as_user(f"u-{uuid.uuid4().hex[:6]}"))
            assert answer.status_code == 200, answer.text
        assert await backends(postgres_admin_url, own_db) >= 1
    for _ in range(50):  # the server ends a closed backend a moment after the client left
        if await backends(postgres_admin_url, own_db) == 0:
            break
        await asyncio.sleep(0.1)
    assert await backends(postgres_admin_url, own_db) == 0
