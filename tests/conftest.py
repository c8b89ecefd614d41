from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from igny8.testing import ChildProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from finished_stack import FinishedStack, finished_stack_session  # noqa: E402


@pytest.fixture(scope="session")
async def finished_stack(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FinishedStack]:
    """The whole stack with one customer whose pipeline ran to completion through the gateway's
    `/v1` and whose articles are published (`tests/finished_stack.py`): started once per session
    and shared; tests read what it made and add tenants of their own, never change its data."""
    async with finished_stack_session(
        postgres_admin_url, kafka_bootstrap, tmp_path_factory.mktemp("finished-stack")
    ) as stack:
        yield stack


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., tuple[ChildProcess, str]]]:
    """Start `<service> serve` as its own process; returns (process, base URL)."""
    started: list[ChildProcess] = []

    def start(name: str, env: dict[str, str], log: str | None = None) -> tuple[ChildProcess, str]:
        port = env.get(f"{name.upper()}_HTTP_PORT") or str(free_port())
        child = ChildProcess(
            [str(Path(sys.executable).parent / name), "serve"],
            tmp_path / f"{log or name}-{len(started)}.log",
            env={f"{name.upper()}_HTTP_PORT": port, **env},
        )
        started.append(child)
        return child, f"http://127.0.0.1:{port}"

    yield start
    for child in started:
        child.stop()
