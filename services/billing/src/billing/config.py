"""Settings of the billing service: environment variables prefixed `BILLING_`."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", frozen=True)

    http_port: int = 8101
    low_balance_threshold: int = 100
    """Platform default; an account may override it."""
    sweep_interval_s: float = 5.0
    """How often overdue holds and lapsed grants are expired."""
    stripe_secret_key: SecretStr = SecretStr("sk_test_igny8local")
    """Never logged; the default only works against stripe-mock."""
    stripe_webhook_secret: SecretStr = SecretStr("whsec_igny8local")
    stripe_api_base: str | None = None
    """Override of Stripe's API address (stripe-mock in tests and the demo)."""
    stripe_webhook_tolerance_s: int = 300
    renewal_interval_s: float = 60.0
    """How often due subscription periods, retries and lapses are looked at."""
    checkout_success_url: str = "http://127.0.0.1:8100/console/invoices?paid=1"
    checkout_cancel_url: str = "http://127.0.0.1:8100/console/invoices?cancelled=1"
