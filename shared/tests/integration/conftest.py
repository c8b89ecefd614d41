from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.db import create_engine
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, temporary_database

SUPPORT = Path(__file__).resolve().parents[1] / "support"
sys.path.insert(0, str(SUPPORT))

import ping_app  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture
async def db_url(postgres_admin_url: str) -> AsyncIterator[str]:
    async with temporary_database(postgres_admin_url, "msg") as url:
        await ping_app.create_schema(url)
        yield url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url, 5)
    yield eng
    await eng.dispose()


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"test.ping.{uuid.uuid4().hex[:10]}"
    await ensure_topics(kafka_bootstrap, ping_app.registry(name))
    return name


@pytest.fixture
def spawn(tmp_path: Path) -> AsyncIterator[Callable[..., ChildProcess]]:
    started: list[ChildProcess] = []

    def start(role: str, *args: str, log: str | None = None) -> ChildProcess:
        log_path = tmp_path / f"{log or role}-{len(started)}.log"
        child = ChildProcess([sys.executable, str(SUPPORT / "ping_app.py"), role, *args], log_path)
        started.append(child)
        return child

    yield start  # type: ignore[misc]
    for child in started:
        child.stop()
