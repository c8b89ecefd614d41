"""Settings of the billing service: environment variables prefixed `BILLING_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BILLING_", extra="ignore", frozen=True)

    http_port: int = 8101
    low_balance_threshold: int = 100
    """Platform default; an account may override it."""
    sweep_interval_s: float = 5.0
    """How often overdue holds and lapsed grants are expired."""
