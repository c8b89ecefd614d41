"""Billing's migrations walk up, down to before invoicing and payments, and up again."""

from __future__ import annotations

import pytest

from billing.bootstrap import SERVICE_ROOT
from igny8.db.migrations import downgrade, upgrade
from igny8.testing import temporary_database

pytestmark = pytest.mark.integration


async def test_invoicing_migration_goes_down_and_up_again(postgres_admin_url):
    import asyncio

    async with temporary_database(postgres_admin_url, "billing_stairway") as url:
        await asyncio.to_thread(upgrade, SERVICE_ROOT, url)
        await asyncio.to_thread(downgrade, SERVICE_ROOT, url, "billing_0002")
        await asyncio.to_thread(upgrade, SERVICE_ROOT, url)
