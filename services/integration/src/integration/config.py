"""Settings of the integration service: environment variables prefixed `INTEGRATION_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings
from igny8.platforms import InventoryLimits


class IntegrationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTEGRATION_", extra="ignore", frozen=True)

    http_port: int = 8103
    credential_keys: SecretStr = SecretStr("")
    """Key ring `kid:base64(32 bytes),…`; the first key encrypts, all decrypt."""
    ssrf_allow: str = ""
    """Comma-separated hosts or CIDRs admitted despite being non-public (development, tests)."""
    static_root: Path = Path("var/exports")
    """Static-export integrations write below this folder only."""
    http_timeout_s: float = 10.0
    """Per network operation (connect, each read) of calls to customer sites."""
    http_max_response_bytes: int = 16 * 1024 * 1024
    sync_max_pages: int = 200
    sync_max_items: int = 20_000
    sync_max_bytes: int = 64 * 1024 * 1024
    sync_max_seconds: float = 300.0
    """Total time of one sync or connection test, however the site answers."""
    sync_interval_s: float = 3600.0
    scheduler_tick_s: float = 30.0

    @property
    def inventory_limits(self) -> InventoryLimits:
        return InventoryLimits(
            self.sync_max_pages, self.sync_max_items, self.sync_max_bytes, self.sync_max_seconds
        )

    @property
    def ssrf_allow_list(self) -> list[str]:
        return [entry.strip() for entry in self.ssrf_allow.split(",") if entry.strip()]
