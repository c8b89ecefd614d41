import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from integration_support import RING
from pydantic import SecretStr

from igny8.db import create_engine
from igny8.runtime import create_app
from igny8.testing import migrated_database
from integration.bootstrap import SERVICE_ROOT, bootstrap
from integration.config import IntegrationSettings


@pytest.fixture(scope="session")
def integration_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "integration_test")


@pytest.fixture
async def engine(integration_db):
    eng = create_engine(integration_db, 10)
    yield eng
    await eng.dispose()


@pytest.fixture
def settings(integration_db, tmp_path) -> IntegrationSettings:
    return IntegrationSettings(
        database_url=integration_db,
        credential_keys=SecretStr(RING),
        ssrf_allow="127.0.0.1/32",
        static_root=tmp_path / "exports",
        http_timeout_s=5,
        sync_max_seconds=3,
    )


@pytest.fixture
async def client(settings, engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(bootstrap(settings, engine=engine))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://integration"
    ) as c:
        yield c
