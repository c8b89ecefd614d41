"""Composition root of the publishing service; every dependency can be overridden by tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.db import create_engine, session_factory
from igny8.runtime import Service, messaging_for
from publishing.config import PublishingSettings

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def bootstrap(
    settings: PublishingSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
) -> Service:
    settings = settings or PublishingSettings()
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    return Service(
        name="publishing",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("publishing", settings, engine, sessions),
        description="Optimizes, interlinks and publishes content to customer sites.",
    )
