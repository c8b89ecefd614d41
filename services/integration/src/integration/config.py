"""Settings of the integration service: environment variables prefixed `INTEGRATION_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class IntegrationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTEGRATION_", extra="ignore", frozen=True)

    http_port: int = 8103
