"""`<service> serve` moves what it built before serving out of the collector's scans: a full
collection walking the app's long-lived objects paused the gateway's event loop for up to
330 ms with 1,000 SSE streams open (the SSE benchmark's p99)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from igny8 import runtime
from igny8.config import ServiceSettings


def _build(settings: ServiceSettings) -> runtime.Service:
    return runtime.Service(
        name="svc",
        settings=settings,
        root=Path("."),
        engine=create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none"),
        sessions=None,  # type: ignore[arg-type]
        messaging=None,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("setting", "frozen"), [("true", True), ("false", False)])
def test_serve_freezes_the_heap_it_built_before_serving(monkeypatch, setting, frozen):
    seen: list[int] = []
    monkeypatch.setattr(runtime.uvicorn, "run", lambda app, **_: seen.append(gc.get_freeze_count()))
    monkeypatch.setenv("SVC_GC_FREEZE_ON_START", setting)
    monkeypatch.setenv("SVC_MIGRATE_ON_START", "false")

    class Settings(ServiceSettings):
        model_config = {**ServiceSettings.model_config, "env_prefix": "SVC_"}

    gc.unfreeze()
    try:
        assert runtime.main("svc", _build, Settings, ["serve"]) == 0
        assert (seen[0] > 0) is frozen
    finally:
        gc.unfreeze()
