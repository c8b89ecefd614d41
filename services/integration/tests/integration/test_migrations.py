"""The migration stairway: every revision goes up, down to the start and up again."""

from __future__ import annotations

import pytest

from igny8.db import migrations
from igny8.testing import create_database, drop_database
from integration.bootstrap import SERVICE_ROOT

pytestmark = pytest.mark.integration


async def test_migrations_walk_up_down_and_up_again(postgres_admin_url):
    url = await create_database(postgres_admin_url, "integration_stairs")
    try:
        await asyncio_to_thread(migrations.upgrade, SERVICE_ROOT, url)
        await asyncio_to_thread(migrations.downgrade, SERVICE_ROOT, url, "base")
        await asyncio_to_thread(migrations.upgrade, SERVICE_ROOT, url)
    finally:
        await drop_database(postgres_admin_url, url)


async def asyncio_to_thread(fn, *args):  # alembic's env runs its own event loop
    import asyncio

    return await asyncio.to_thread(fn, *args)
