"""Scheduled syncs pick up integrations whose last sync is older than the interval."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from integration_support import RING

from igny8.db import session_factory
from igny8.net import UrlGuard
from igny8.platforms.testing import WordPressState, fake_wordpress
from integration.adapters.aesgcm_credentials import AesGcmCredentialCipher, parse_key_ring
from integration.adapters.platform_connectors import PlatformConnectors
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.integrations import create_integration, get_integration
from integration.app.sites import create_site
from integration.entrypoints.timers import sync_due

pytestmark = pytest.mark.integration


@dataclass
class Clock:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def test_due_integrations_are_synced_and_fresh_ones_left_alone(engine, tmp_path):
    sessions = session_factory(engine)
    cipher = AesGcmCredentialCipher(parse_key_ring(RING))
    connector = PlatformConnectors(UrlGuard(["127.0.0.1/32"]), tmp_path, 5)
    clock = Clock(
        datetime.now(UTC) + timedelta(days=3650)
    )  # later than anything other tests left due
    account = uuid.uuid4()
    with fake_wordpress(WordPressState(posts=3, tags=1, categories=1)) as (url, _):
        async with IntegrationUnitOfWork(sessions) as uow:
            site = await create_site(account, {"name": "s", "url": url}, uow)
            integration = await create_integration(
                account,
                site.site_id,
                {"platform": "wordpress", "base_url": url},
                {"username": "editor", "application_password": "good pass"},
                uow,
                cipher,
            )
            await uow.commit()
        for _ in range(50):  # drain whatever else is due in the shared test database
            async with IntegrationUnitOfWork(sessions) as uow:
                mine = await get_integration(account, integration.integration_id, uow)
            if mine.last_synced_at is not None:
                break
            await sync_due(sessions, cipher, connector, clock, interval_s=3600, batch=50)
        assert mine.sync_status == "synced" and mine.last_synced_at == clock.now()
        clock.at += timedelta(minutes=30)
        await sync_due(sessions, cipher, connector, clock, interval_s=3600, batch=500)
        async with IntegrationUnitOfWork(sessions) as uow:
            assert (
                await get_integration(account, integration.integration_id, uow)
            ).last_synced_at == mine.last_synced_at
        clock.at += timedelta(hours=1)
        await sync_due(sessions, cipher, connector, clock, interval_s=3600, batch=500)
        async with IntegrationUnitOfWork(sessions) as uow:
            assert (
                await get_integration(account, integration.integration_id, uow)
            ).last_synced_at == clock.now()
    await connector.http.aclose()
