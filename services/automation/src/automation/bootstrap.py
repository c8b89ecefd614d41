"""Composition root of the automation service; every dependency can be overridden by tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from automation.adapters.ai_settings import engine_from_settings
from automation.adapters.billing_quotes import BillingQuotes
from automation.adapters.local_image_storage import LocalImageStorage
from automation.adapters.postgres_ai_budget import PostgresAIBudget
from automation.adapters.postgres_wakeups import PostgresWakeups
from automation.adapters.run_log_files import FileRunLog
from automation.adapters.sqlalchemy_run_logs import SqlAlchemyRunLog
from automation.adapters.sqlalchemy_unit_of_work import (
    AutomationUnitOfWork,
    new_worker_id,
)
from automation.app.run_engine import RunEngine
from automation.config import AutomationSettings
from automation.domain.scheduling import Caps
from automation.entrypoints.events import (
    credit_replies_subscription,
    image_subscription,
    publication_subscription,
    site_subscription,
)
from automation.entrypoints.http import create_router
from automation.entrypoints.http_models import document_upload_models
from automation.entrypoints.http_run_logs import create_run_log_router
from automation.entrypoints.worker import flushing, run_driver, run_log_pruner, scheduler
from automation.ports import AIBudget, AIEngine, Clock, ImageStorage
from igny8.auth import service_auth
from igny8.clock import SystemClock
from igny8.db import create_engine, session_factory
from igny8.runtime import Service, messaging_for

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def image_storage_from(settings: AutomationSettings) -> ImageStorage:
    if settings.image_storage == "s3":
        from automation.adapters.s3_image_storage import S3ImageStorage

        secret = settings.s3_secret_access_key
        return S3ImageStorage(
            settings.s3_bucket,
            settings.s3_endpoint_url,
            settings.s3_region,
            settings.s3_access_key_id,
            secret.get_secret_value() if secret else None,
            settings.s3_prefix,
        )
    return LocalImageStorage(settings.image_root)


def caps_from(settings: AutomationSettings) -> tuple[Caps, Caps]:
    """The caps on runs in progress and on AI calls in flight: per account, per plan, default."""
    return (
        Caps(
            settings.max_runs_per_account,
            settings.account_run_caps,
            settings.plan_run_caps,
            settings.account_plans,
        ),
        Caps(
            settings.ai_max_in_flight_per_account,
            settings.account_ai_caps,
            settings.plan_ai_caps,
            settings.account_plans,
        ),
    )


def bootstrap(
    settings: AutomationSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
    ai: AIEngine | None = None,
    clock: Clock | None = None,
    storage: ImageStorage | None = None,
    ai_budget: AIBudget | None = None,
) -> Service:
    settings = settings or AutomationSettings()
    engine = engine or create_engine(
        settings.database_url, settings.database_pool_size, settings.database_ping_after_idle_s
    )
    sessions = session_factory(engine)
    ai = ai or engine_from_settings(settings)
    clock = clock or SystemClock()
    storage = storage or image_storage_from(settings)
    files = FileRunLog(settings.run_log_root) if settings.run_log_root else None
    run_log = SqlAlchemyRunLog(sessions, copy=files)
    public = settings.public_url.rstrip("/")
    worker_id = new_worker_id()
    run_caps, ai_caps = caps_from(settings)
    wakeups = PostgresWakeups(settings.database_url)
    budget = ai_budget or PostgresAIBudget(
        sessions,
        provider=settings.openai_base_url or "openai",
        limit=settings.ai_max_in_flight,
        per_account=ai_caps,
        holder=worker_id,
        call_lease_s=settings.ai_call_lease_s,
        cooldown_s=settings.ai_cooldown_s,
        signals=wakeups,
    )
    run_engine = RunEngine(
        unit_of_work=lambda: AutomationUnitOfWork(sessions),
        ai=ai,
        storage=storage,
        log=run_log,
        clock=clock,
        worker_id=worker_id,
        image_url=lambda image_id: f"{public}/images/{image_id}",
        lease_ttl_s=settings.lease_ttl_s,
        reserve_wait_s=settings.reserve_wait_s,
        reserve_deadline_s=settings.reserve_deadline_s,
        image_deadline_s=settings.image_deadline_s,
        max_provider_failures=settings.max_provider_failures,
        image_concurrency=settings.image_concurrency,
        image_window=settings.image_window,
        ai_budget=budget,
        signals=wakeups,
        run_caps=run_caps,
    )
    key = settings.service_private_key.get_secret_value()
    admits = service_auth("automation", settings.public_keys)
    return Service(
        name="automation",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("automation", settings, engine, sessions),
        routers=[
            create_router(
                sessions,
                clock,
                BillingQuotes(settings.billing_url, key),
                ai.ensure_configured,
                storage,
                settings.start_wait_s,
                admits,
                image_url=lambda image_id: f"{public}/images/{image_id}",
            ),
            create_run_log_router(sessions, run_log, admits),
        ],
        openapi_extend=document_upload_models,
        subscriptions=[
            site_subscription(clock),
            credit_replies_subscription(),
            publication_subscription(),
            image_subscription(run_engine),
        ],
        timers=[
            # the driver's last lines (cancelled runs at shutdown) are stored before it returns
            flushing(
                run_driver(
                    run_engine,
                    lambda: AutomationUnitOfWork(sessions),
                    settings.worker_concurrency,
                    settings.worker_tick_s,
                    run_caps,
                    wakeups.queue_event,
                    timedelta(milliseconds=settings.queue_position_every_ms),
                    settings.yield_slots,
                ),
                run_log,
            ),
            wakeups.run,
            scheduler(
                engine, lambda: AutomationUnitOfWork(sessions), clock, settings.scheduler_tick_s
            ),
            run_log_pruner(engine, run_log, clock, settings.run_log_retention_days),
        ],
        description="Runs the multi-stage AI content pipeline per site.",
    )
