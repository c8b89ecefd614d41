"""Scheduled syncs are fair: a failed attempt is recorded and backs off, one tenant's
integrations cannot take every slot of a tick, and one endless sync cannot stop the rest."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from integration_support import RING

from igny8.db import create_engine, session_factory
from igny8.net import UrlGuard
from igny8.platforms import InventoryLimits
from igny8.platforms.testing import SlowState, WordPressState, fake_slow_site, fake_wordpress
from igny8.testing import migrated_database
from integration.adapters.aesgcm_credentials import AesGcmCredentialCipher, parse_key_ring
from integration.adapters.platform_connectors import PlatformConnectors
from integration.adapters.sqlalchemy_tables import integrations, sync_events
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.integrations import create_integration
from integration.app.sites import create_site
from integration.bootstrap import SERVICE_ROOT
from integration.entrypoints.timers import sync_due

pytestmark = pytest.mark.integration
WP = {"username": "editor", "application_password": "good pass"}
CIPHER = AesGcmCredentialCipher(parse_key_ring(RING))


@dataclass
class Clock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def own_db(postgres_admin_url: str) -> Iterator[str]:
    """A database of its own: what is due must not depend on what other tests left behind."""
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "integration_sched")


@pytest.fixture
async def sessions(own_db):
    engine = create_engine(own_db, 10)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def connector(tmp_path):
    made = PlatformConnectors(
        UrlGuard(["127.0.0.1/32"]), tmp_path, 5, InventoryLimits(max_seconds=120)
    )
    yield made
    await made.http.aclose()


async def add_wordpress(sessions, account: uuid.UUID, url: str, count: int = 1) -> list[uuid.UUID]:
    ids = []
    async with IntegrationUnitOfWork(sessions) as uow:
        site = await create_site(account, {"name": "s", "url": url}, uow)
        for _ in range(count):
            made = await create_integration(
                account, site.site_id, {"platform": "wordpress", "base_url": url}, WP, uow, CIPHER
            )
            ids.append(made.integration_id)
        await uow.commit()
    return ids


async def attempts(sessions, integration_id: uuid.UUID) -> list[bool]:
    async with sessions() as session:
        rows = await session.execute(
            sa.select(sync_events.c.success)
            .where(sync_events.c.integration_id == integration_id, sync_events.c.kind == "sync")
            .order_by(sync_events.c.id)
        )
        return list(rows.scalars())


async def row(sessions, integration_id: uuid.UUID):
    async with sessions() as session:
        return (
            await session.execute(
                sa.select(integrations).where(integrations.c.integration_id == integration_id)
            )
        ).one()


async def test_a_failed_attempt_is_recorded_and_backs_off(sessions, connector):
    clock = Clock(datetime.now(UTC))
    (failing,) = await add_wordpress(sessions, uuid.uuid4(), "http://127.0.0.1:9")  # unreachable
    await sync_due(sessions, CIPHER, connector, clock, 3600, retry_s=60)
    first = await row(sessions, failing)
    assert await attempts(sessions, failing) == [False]
    assert (first.sync_failures, first.last_sync_attempt_at) == (1, clock.now())
    assert first.next_sync_at == clock.now() + timedelta(seconds=60)

    clock.at += timedelta(seconds=30)  # not yet due again: the next tick leaves it alone
    await sync_due(sessions, CIPHER, connector, clock, 3600, retry_s=60)
    assert await attempts(sessions, failing) == [False]

    clock.at += timedelta(seconds=31)
    await sync_due(sessions, CIPHER, connector, clock, 3600, retry_s=60)
    second = await row(sessions, failing)
    assert await attempts(sessions, failing) == [False, False]
    assert second.sync_failures == 2
    assert second.next_sync_at == clock.now() + timedelta(seconds=120)  # doubled


async def test_one_tenants_integrations_cannot_take_every_slot(sessions, connector):
    clock = Clock(datetime.now(UTC))
    with fake_wordpress(WordPressState(posts=1, tags=1, categories=1)) as (url, _):
        busy = await add_wordpress(sessions, uuid.uuid4(), url, count=6)
        (quiet,) = await add_wordpress(sessions, uuid.uuid4(), url)
        await sync_due(sessions, CIPHER, connector, clock, 3600, batch=3, per_account=2)
    assert await attempts(sessions, quiet) == [True]
    assert sum([len(await attempts(sessions, i)) for i in busy]) == 2


async def test_an_endless_sync_does_not_stop_the_others(sessions, connector):
    clock = Clock(datetime.now(UTC))
    with (
        fake_slow_site(SlowState(drip=True)) as (slow_url, _),
        fake_wordpress(WordPressState(posts=1, tags=1, categories=1)) as (url, _),
    ):
        (endless,) = await add_wordpress(sessions, uuid.uuid4(), slow_url)
        others = [(await add_wordpress(sessions, uuid.uuid4(), url))[0] for _ in range(3)]
        await asyncio.wait_for(
            sync_due(sessions, CIPHER, connector, clock, 3600, concurrency=2, sync_timeout_s=2),
            30,
        )
    for other in others:
        assert await attempts(sessions, other) == [True]
    assert await attempts(sessions, endless) == [False]
    stuck = await row(sessions, endless)
    assert (stuck.sync_failures, stuck.last_error.split(":")[0]) == (1, "timeout")
