"""Pytest plugin: real Kafka and PostgreSQL for integration tests (never in-memory stand-ins).

Addresses come from the environment (`KAFKA_BOOTSTRAP_SERVERS`, `IGNY8_POSTGRES_ADMIN_URL`), which
`make infra-up` writes to `.env.infra` and `make test` exports. Without them the test fails with a
message saying to run `make infra-up` — under CI=true and elsewhere alike: no silent skips.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

if TYPE_CHECKING:
    from igny8.fuzz import FuzzReport, FuzzTarget

MISSING = (
    "{name} is not set: start the private infrastructure with `make infra-up` and export "
    "`.env.infra` (`make test` does both)"
)


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(MISSING.format(name=name), pytrace=False)
    return value


def ensure_service_keys() -> None:
    """Every service's signing key and the public-key list in the environment (so services built
    in-process and child processes alike find them): `.env.infra`'s development keys when it is
    loaded, else a fresh set for this test session. Tests sign as a service with
    `auth_headers(None, "gateway", …)` (None: that service's key from the environment)."""
    from igny8.service_keys import PUBLIC_KEYS_ENV, development_keys

    if not os.environ.get(PUBLIC_KEYS_ENV):
        os.environ.update(development_keys())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs the real Kafka broker and PostgreSQL")
    ensure_service_keys()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return require_env("KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    return require_env("IGNY8_POSTGRES_ADMIN_URL")


async def create_database(admin_url: str, prefix: str = "test") -> str:
    """Create an empty database with a unique name; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def temporary_database(admin_url: str, prefix: str = "test") -> AsyncIterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    url = await create_database(admin_url, prefix)
    try:
        yield url
    finally:
        await drop_database(admin_url, url)


def migrated_database(admin_url: str, service_root: Path, prefix: str) -> Iterator[str]:
    """A throwaway database migrated to head with the service's own Alembic scripts."""
    from igny8.db import migrations

    url = asyncio.run(create_database(admin_url, prefix))
    try:
        migrations.upgrade(service_root, url)
        yield url
    finally:
        asyncio.run(drop_database(admin_url, url))


def unique_name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


_children: list[ChildProcess] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A safety net: no child process outlives the test session (a leftover consumer would
    join its group and take partitions from the next run)."""
    for child in _children:
        child.stop(timeout=5)


class ChildProcess:
    """A process the test drives from outside: its output goes to a file the test can wait on."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        import subprocess

        _children.append(self)
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 30.0, after: int = 0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output()[after:]:
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"process exited ({self.proc.returncode}):\n{self.output()[-3000:]}"
                )
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not seen within {timeout}s:\n{self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush — what a crash looks like."""
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if not self._log.closed:
            self._log.close()

    def stop(self, timeout: float = 15.0) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()


async def wait_until(
    predicate: Callable[[], Awaitable[object]],
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "",
) -> None:
    """Poll an async predicate until it is true (a helper for waiting, not a timed assertion)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await predicate()
        if last:
            return
        await asyncio.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s (last value {last!r})")


async def topic_records(bootstrap: str, topic: str) -> list:  # type: ignore[type-arg]
    """Every record currently in `topic`, read without a consumer group."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    if not parts:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records = []
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            batch = await consumer.getmany(*parts, timeout_ms=1000)
            for items in batch.values():
                records.extend(items)
        return records
    finally:
        await consumer.stop()


async def count_records(bootstrap: str, topic: str) -> int:
    return len(await topic_records(bootstrap, topic))


def free_port() -> int:
    """A free TCP port for a server a test starts, chosen below the kernel's ephemeral range
    (32768+), so outgoing connections (Kafka, PostgreSQL clients) cannot grab it before the
    server binds it."""
    import random
    import socket

    for _ in range(200):
        port = random.randint(20_000, 32_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def start_service_process(
    name: str, env: dict[str, str], log_path: Path, timeout: float = 60.0
) -> tuple[ChildProcess, str]:
    """`<name> serve` as its own process on a free port; returns it and its base URL once
    `/healthz` answers."""
    import sys
    import time
    import urllib.request

    port = free_port()
    child = ChildProcess(
        [str(Path(sys.executable).parent / name), "serve", "--port", str(port)], log_path, env=env
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise AssertionError(
                f"{name} exited ({child.proc.returncode}):\n{child.output()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 - loopback
                return child, url
        except OSError:
            time.sleep(0.2)
    child.stop()
    raise AssertionError(
        f"{name} did not answer /healthz within {timeout}s:\n{child.output()[-3000:]}"
    )


def fuzz_service(target: FuzzTarget) -> FuzzReport:
    """The schemathesis harness (`igny8.fuzz`): fuzz a live service's OpenAPI operations."""
    from igny8.fuzz import fuzz_service as run

    return run(target)


class PrivatePostgres:
    """A PostgreSQL cluster of one test's own (infra/local.py under the git-ignored .infra/, which
    the `postgres` user can reach), so stopping it disturbs no other test."""

    def __init__(self) -> None:
        import json

        self._root = Path(__file__).resolve().parents[3]
        self.state = self._root / ".infra" / f"test-pg-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self._env = {
            **os.environ,
            "IGNY8_INFRA_DIR": str(self.state),
            "IGNY8_PG_PORT": str(self.port),
        }
        self.start()
        password = json.loads((self.state / "pg" / "secrets.json").read_text())["postgres"]
        self.admin_url = f"postgresql+asyncpg://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def _ctl(self, command: str) -> None:
        import subprocess
        import sys

        subprocess.run(
            [sys.executable, str(self._root / "infra" / "local.py"), command],
            env=self._env,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        self._ctl("pg-up")

    def stop(self) -> None:
        self._ctl("pg-down")

    def remove(self) -> None:
        import shutil

        self.stop()
        shutil.rmtree(self.state, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    try:
        yield cluster
    finally:
        cluster.remove()


REPO_ROOT = Path(__file__).resolve().parents[3]
STRIPE_MOCK = Path(
    os.environ.get("STRIPE_MOCK_BIN", str(REPO_ROOT / ".cache" / "go" / "bin" / "stripe-mock"))
)


@pytest.fixture(scope="session")
def stripe_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """stripe-mock (pinned, built by `make tools`) on loopback ports of its own: billing's tests
    and the gateway's (a real payment through billing) share it."""
    import socket
    import time

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
