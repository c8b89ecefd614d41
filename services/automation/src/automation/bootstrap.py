"""Composition root of the automation service; every dependency can be overridden by tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from automation.config import AutomationSettings
from igny8.db import create_engine, session_factory
from igny8.runtime import Service, messaging_for

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def bootstrap(
    settings: AutomationSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
) -> Service:
    settings = settings or AutomationSettings()
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    return Service(
        name="automation",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("automation", settings, engine, sessions),
        description="Runs the multi-stage AI content pipeline per site.",
    )
