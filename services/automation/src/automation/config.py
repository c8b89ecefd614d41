"""Settings of the automation service: environment variables prefixed `AUTOMATION_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class AutomationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTOMATION_", extra="ignore", frozen=True)

    http_port: int = 8102
