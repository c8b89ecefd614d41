from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.db import create_engine
from igny8.testing import migrated_database
from publishing.bootstrap import SERVICE_ROOT

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from publishing_support import Driver, FakeClock

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def publishing_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "publishing_test")


@pytest.fixture
async def engine(publishing_db: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(publishing_db, 10)
    yield eng
    await eng.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def driver(engine: AsyncEngine, clock: FakeClock) -> Driver:
    return Driver(engine, clock)


def _load_infra_wordpress():
    import importlib.util

    path = Path(__file__).resolve().parents[4] / "infra" / "wordpress.py"
    spec = importlib.util.spec_from_file_location("igny8_infra_wordpress", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def wordpress(tmp_path_factory):
    """A real WordPress (Debian's packages, private MariaDB, PHP's server on its own loopback
    address), installed when missing, stopped at the end of the session."""
    infra = _load_infra_wordpress()
    instance = infra.LocalWordPress(tmp_path_factory.mktemp("wordpress"))
    try:
        yield instance.up()
    finally:
        instance.down()
