"""The scheduler starts a pass when a publication is scheduled (PostgreSQL NOTIFY at commit), not
at its next tick, and keeps publishing while anything is due — on a database of its own, so no
other test's due publication is taken by it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from publishing_support import Driver, FakeClock

from igny8.db import create_engine
from igny8.net import GuardedHttp, UrlGuard
from igny8.periodic import periodic_job
from igny8.testing import migrated_database, wait_until
from publishing.adapters.destinations import PlatformDestinations
from publishing.adapters.postgres_wakeups import PostgresWakeups
from publishing.bootstrap import SERVICE_ROOT
from publishing.domain.model import Status
from publishing.entrypoints.timers import scheduler_pass

pytestmark = pytest.mark.integration
HOUR = 3600.0


@pytest.fixture(scope="module")
def wakeup_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "publishing_wakeup")


async def test_a_scheduled_publication_starts_the_scheduler_at_once(wakeup_db, tmp_path):
    engine = create_engine(wakeup_db, 5)
    driver = Driver(engine, FakeClock())
    wakeups = PostgresWakeups(wakeup_db)
    stop = asyncio.Event()
    listening = asyncio.create_task(wakeups.run(stop))
    publisher = driver.publisher(PlatformDestinations(GuardedHttp(UrlGuard()), tmp_path))
    passes = 0
    publish = scheduler_pass(publisher, per_destination=2)

    async def counted() -> None:
        nonlocal passes
        passes += 1
        await publish()

    # an hour between ticks: only the wake-up can start a pass after the first one
    scheduler = periodic_job("publishing.scheduler", HOUR, counted, wakeup=wakeups.due)
    try:

        async def listening_now() -> bool:
            return wakeups.due.is_set()

        await wait_until(listening_now, timeout=20, message="LISTEN never started")
        running = asyncio.create_task(scheduler(stop))

        async def idle() -> bool:
            return passes >= 1 and not wakeups.due.is_set()

        await wait_until(idle, timeout=20, message="the first pass never ran")
        account = uuid.uuid4()
        site = await driver.site(account)
        await driver.integration(account, site, settings={"folder": f"site-{site.hex[:6]}"})
        contents = [driver.content(site, keyphrase=k) for k in ("compost bins", "leaf mould")]
        for content in contents:
            await driver.ready(account, content)

        async def all_published() -> bool:
            found = [p for c in contents for p in await driver.publications(c.content_id)]
            return len(found) == 2 and all(p.status == Status.PUBLISHED for p in found)

        await wait_until(all_published, timeout=30, message="not published before the tick")
        assert passes >= 2, "a pass started by the NOTIFY, not by the hourly tick"
    finally:
        stop.set()
        await asyncio.gather(listening, *([running] if "running" in locals() else []))
        await engine.dispose()
