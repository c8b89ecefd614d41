"""Composition root of the publishing service; every dependency can be overridden by tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.ai.openai_client import ModelConfig
from igny8.auth import service_auth
from igny8.clock import SystemClock
from igny8.db import create_engine, session_factory
from igny8.net import GuardedHttp, UrlGuard
from igny8.periodic import periodic_job
from igny8.runtime import Service, messaging_for
from publishing.adapters.destinations import PlatformDestinations
from publishing.adapters.internal_http import (
    AutomationImages,
    IntegrationCredentials,
    KeptCredentials,
)
from publishing.adapters.openai_optimizer import OpenAIOptimizer
from publishing.adapters.postgres_wakeups import PostgresWakeups
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app.optimize import OptimizerPolicy, Optimizing
from publishing.app.publish import Publisher, PublishPolicy
from publishing.config import PublishingSettings
from publishing.domain.errors import PublishingError
from publishing.entrypoints.events import (
    content_subscription,
    credit_replies_subscription,
    entity_subscription,
)
from publishing.entrypoints.http import create_router, publishing_error_handler
from publishing.entrypoints.http_optimizer import create_optimizer_router
from publishing.entrypoints.timers import optimizer_pass, scheduler_pass
from publishing.ports import Clock, CredentialSource, Destinations, ImageSource, Optimizer

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def bootstrap(
    settings: PublishingSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    destinations: Destinations | None = None,
    credentials: CredentialSource | None = None,
    images: ImageSource | None = None,
    optimizer: Optimizer | None = None,
) -> Service:
    settings = settings or PublishingSettings()
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    clock = clock or SystemClock()
    key = settings.signing_key  # read when a call is made: the API role needs none
    allow = tuple(a.strip() for a in settings.ssrf_allow.split(",") if a.strip())
    destinations = destinations or PlatformDestinations(
        GuardedHttp(UrlGuard(allow), timeout_s=settings.http_timeout_s), settings.static_root
    )
    credentials = credentials or KeptCredentials(
        IntegrationCredentials(settings.integration_url, key), settings.credentials_ttl_s
    )
    images = images or AutomationImages(settings.automation_url, key)
    publisher = Publisher(
        uow_factory=lambda: PublishingUnitOfWork(sessions),
        destinations=destinations,
        credentials=credentials,
        images=images,
        clock=clock,
        policy=PublishPolicy(
            lease_s=settings.publish_lease_s,
            max_attempts=settings.publish_max_attempts,
            backoff_s=settings.publish_backoff_s,
        ),
    )
    optimizing = Optimizing(
        lambda: PublishingUnitOfWork(sessions),
        optimizer
        or OpenAIOptimizer(
            ModelConfig(
                model=settings.openai_model,
                api_key=settings.openai_api_key.get_secret_value()
                if settings.openai_api_key
                else None,
                base_url=settings.openai_base_url,
                timeout_s=settings.openai_timeout_s,
                max_retries=settings.openai_max_retries,
            )
        ),
        clock,
        OptimizerPolicy(
            lease_s=settings.optimizer_lease_s,
            hold_ttl_s=settings.optimizer_hold_ttl_s,
            resend_after_s=settings.optimizer_reserve_resend_s,
        ),
    )
    admits = service_auth("publishing", settings.public_keys)
    wakeups = PostgresWakeups(settings.database_url)
    return Service(
        name="publishing",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("publishing", settings, engine, sessions),
        routers=[
            create_router(sessions, clock, admits, destinations, credentials),
            create_optimizer_router(sessions, clock, admits, settings.optimizer_hold_ttl_s),
        ],
        subscriptions=[
            content_subscription(clock),
            entity_subscription(clock),
            credit_replies_subscription(clock),
        ],
        timers=[
            periodic_job(
                "publishing.scheduler",
                settings.scheduler_tick_s,
                scheduler_pass(publisher, settings.per_destination_concurrency, again=wakeups.due),
                lock_engine=engine,
                wakeup=wakeups.due,
            ),
            wakeups.run,
            periodic_job(
                "publishing.optimizer",
                settings.optimizer_tick_s,
                optimizer_pass(optimizing),
                lock_engine=engine,
            ),
        ],
        exception_handlers={PublishingError: publishing_error_handler},
        description="Optimizes, interlinks and publishes content to customer sites.",
    )
