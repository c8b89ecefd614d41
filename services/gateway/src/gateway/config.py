"""Settings of the gateway service: environment variables prefixed `GATEWAY_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    http_port: int = 8100
