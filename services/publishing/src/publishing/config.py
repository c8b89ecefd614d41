"""Settings of the publishing service: environment variables prefixed `PUBLISHING_`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class PublishingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PUBLISHING_", extra="ignore", frozen=True)

    http_port: int = 8104
