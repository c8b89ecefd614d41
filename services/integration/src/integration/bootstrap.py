"""Composition root of the integration service; every dependency can be overridden by tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.auth import service_auth
from igny8.clock import SystemClock
from igny8.db import create_engine, session_factory
from igny8.net import UrlGuard
from igny8.runtime import Service, messaging_for
from integration.adapters.aesgcm_credentials import AesGcmCredentialCipher, parse_key_ring
from integration.adapters.platform_connectors import PlatformConnectors
from integration.config import IntegrationSettings
from integration.domain.errors import IntegrationError
from integration.entrypoints.events import publication_subscription
from integration.entrypoints.http import create_router, integration_error_handler
from integration.entrypoints.timers import sync_scheduler
from integration.ports import Clock, CredentialCipher, PlatformConnector

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def bootstrap(
    settings: IntegrationSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
    cipher: CredentialCipher | None = None,
    connector: PlatformConnector | None = None,
    clock: Clock | None = None,
) -> Service:
    settings = settings or IntegrationSettings()
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    cipher = cipher or AesGcmCredentialCipher(
        parse_key_ring(settings.credential_keys.get_secret_value())
    )
    connector = connector or PlatformConnectors(
        UrlGuard(settings.ssrf_allow_list),
        settings.static_root,
        settings.http_timeout_s,
        settings.inventory_limits,
        settings.http_max_response_bytes,
    )
    clock = clock or SystemClock()
    admits = service_auth("integration", settings.public_keys)
    return Service(
        name="integration",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("integration", settings, engine, sessions),
        routers=[
            create_router(
                sessions, cipher, connector, clock, admits, schedule=settings.sync_schedule
            )
        ],
        subscriptions=[publication_subscription()],
        timers=[
            sync_scheduler(
                engine,
                sessions,
                cipher,
                connector,
                clock,
                settings.sync_interval_s,
                settings.scheduler_tick_s,
                retry_s=settings.sync_retry_s,
                max_backoff_s=settings.sync_max_backoff_s,
                batch=settings.scheduler_batch,
                per_account=settings.scheduler_per_account,
                concurrency=settings.scheduler_concurrency,
                sync_timeout_s=settings.sync_max_seconds + 60,
            )
        ],
        exception_handlers={IntegrationError: integration_error_handler},
        description=(
            "Customer sites, their integrations, encrypted credentials, connection tests and sync."
        ),
    )
