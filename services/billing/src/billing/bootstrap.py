"""Composition root of the billing service; every dependency can be overridden by tests."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.stripe_payment_gateway import StripePaymentGateway
from billing.adapters.weasyprint_documents import WeasyPrintDocumentRenderer
from billing.config import BillingSettings
from billing.domain.errors import BillingError
from billing.entrypoints.events import command_subscription
from billing.entrypoints.http import billing_error_handler, create_router
from billing.entrypoints.http_invoicing import create_invoicing_router
from billing.entrypoints.renewals import renewal_job
from billing.entrypoints.timers import expiry_sweeper
from billing.entrypoints.webhooks import create_webhook_router
from billing.ports import Clock, DocumentRenderer, PaymentGateway, PaymentsPolicy, Policy
from igny8.auth import service_auth
from igny8.clock import SystemClock
from igny8.db import create_engine, session_factory
from igny8.runtime import Service, messaging_for

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def bootstrap(
    settings: BillingSettings | None = None,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    gateway: PaymentGateway | None = None,
    renderer: DocumentRenderer | None = None,
) -> Service:
    settings = settings or BillingSettings()
    engine = engine or create_engine(settings.database_url, settings.database_pool_size)
    sessions = session_factory(engine)
    clock = clock or SystemClock()
    policy = Policy(low_balance_threshold=settings.low_balance_threshold)
    admits = service_auth("billing", settings.public_keys)
    gateway = gateway or StripePaymentGateway(
        settings.stripe_secret_key.get_secret_value(),
        settings.stripe_webhook_secret.get_secret_value(),
        api_base=settings.stripe_api_base,
        tolerance_s=settings.stripe_webhook_tolerance_s,
    )
    renderer = renderer or WeasyPrintDocumentRenderer()
    payments_policy = PaymentsPolicy(
        success_url=settings.checkout_success_url, cancel_url=settings.checkout_cancel_url
    )
    return Service(
        name="billing",
        settings=settings,
        root=SERVICE_ROOT,
        engine=engine,
        sessions=sessions,
        messaging=messaging_for("billing", settings, engine, sessions),
        routers=[
            create_router(sessions, clock, policy, admits),
            create_invoicing_router(
                sessions, clock, policy, payments_policy, gateway, renderer, admits
            ),
            create_webhook_router(sessions, clock, policy, payments_policy, gateway),
        ],
        subscriptions=[command_subscription(clock, policy)],
        timers=[
            expiry_sweeper(engine, sessions, clock, policy, settings.sweep_interval_s),
            renewal_job(
                engine,
                sessions,
                gateway,
                clock,
                policy,
                payments_policy,
                settings.renewal_interval_s,
            ),
        ],
        exception_handlers={BillingError: billing_error_handler},
        description=(
            "Sole owner of the credit ledger: prices operations, reserves, captures and "
            "releases credits."
        ),
    )
