"""Composition root of the integration service; every dependency can be overridden by tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.db import create_engine, session_factory
from igny8.runtime import Service, messaging_for
from integration.config import IntegrationSettings

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def bootstrap(
    settings: IntegrationSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
) -> Service:
    settings = settings or IntegrationSettings()
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    return Service(
        name="integration",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("integration", settings, engine, sessions),
        description=(
            "Customer sites, their integrations, encrypted credentials, connection tests and sync."
        ),
    )
