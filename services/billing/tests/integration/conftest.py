from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import SERVICE_ROOT
from igny8.db import create_engine
from igny8.testing import migrated_database

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing_driver import Billing

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def billing_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "billing_test")


@pytest.fixture
async def engine(billing_db: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(billing_db, 30)
    yield eng
    await eng.dispose()


@pytest.fixture
def billing(engine: AsyncEngine) -> Billing:
    return Billing(engine)
