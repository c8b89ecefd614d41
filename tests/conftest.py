from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from igny8.testing import ChildProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))


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
