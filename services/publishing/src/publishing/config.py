"""Settings of the publishing service: environment variables prefixed `PUBLISHING_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class PublishingSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="PUBLISHING_", extra="ignore", frozen=True, populate_by_name=True
    )

    http_port: int = 8104
    integration_url: str = "http://127.0.0.1:8103"
    """Where integration answers (the internal credentials endpoint)."""
    automation_url: str = "http://127.0.0.1:8102"
    """Where automation serves image files; image URLs elsewhere are refused."""
    static_root: Path = Path("var/exports")
    """Static exports live below this folder (the same root as integration's)."""
    ssrf_allow: str = ""
    """Hosts/CIDRs admitted despite being non-public (development, tests), comma-separated."""
    http_timeout_s: float = 30.0
    credentials_ttl_s: float = Field(default=60.0, ge=0)
    """How long an integration's credentials are kept in memory between publishes (0: asked
    for each publish); never stored or logged. Refused ones are asked for again at once."""
    scheduler_tick_s: float = 2.0
    per_destination_concurrency: int = 2
    publish_lease_s: float = 300.0
    publish_max_attempts: int = 6
    publish_backoff_s: float = 5.0
    optimizer_tick_s: float = 1.0
    optimizer_lease_s: float = 120.0
    optimizer_hold_ttl_s: int = 900
    optimizer_reserve_resend_s: float = 30.0
    """A reserve billing has not answered after this long is sent again (same reservation)."""
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PUBLISHING_OPENAI_API_KEY", "OPENAI_API_KEY"),
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PUBLISHING_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
    )
    openai_model: str = "gpt-4.1-mini"
    openai_timeout_s: float = 60.0
    openai_max_retries: int = Field(default=3, ge=0, le=10)
