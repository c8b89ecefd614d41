from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.bootstrap import SERVICE_ROOT
from igny8.db import create_engine
from igny8.testing import ChildProcess, free_port, migrated_database

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


REPO_ROOT = Path(__file__).resolve().parents[4]
STRIPE_MOCK = Path(
    os.environ.get("STRIPE_MOCK_BIN", str(REPO_ROOT / ".cache" / "go" / "bin" / "stripe-mock"))
)


@pytest.fixture(scope="session")
def stripe_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """stripe-mock (pinned, built by `make tools`) on loopback ports of its own."""
    if not STRIPE_MOCK.exists():
        pytest.fail(f"{STRIPE_MOCK} is missing: run `make tools` (`make test` does)", pytrace=False)
    http, https = free_port(), free_port()
    process = ChildProcess(
        [str(STRIPE_MOCK), "-http-addr", f"127.0.0.1:{http}", "-https-addr", f"127.0.0.1:{https}"],
        tmp_path_factory.mktemp("stripe-mock") / "stripe-mock.log",
    )
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", http)) == 0:
                break
        if process.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"stripe-mock did not start:\n{process.output()[-2000:]}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{http}"
    process.stop()
