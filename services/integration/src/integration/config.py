"""Settings of the integration service: environment variables prefixed `INTEGRATION_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings
from igny8.platforms import InventoryLimits
from integration.domain.model import SyncSchedule


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
    sync_retry_s: float = 60.0
    """After n failed attempts in a row the next is retry * 2^(n-1) later, at most max_backoff."""
    sync_max_backoff_s: float = 6 * 3600.0
    scheduler_tick_s: float = 30.0
    scheduler_batch: int = 20
    scheduler_per_account: int = 2
    """At most this many of one account's integrations per tick."""
    scheduler_concurrency: int = 4

    @property
    def sync_schedule(self) -> SyncSchedule:
        return SyncSchedule(self.sync_interval_s, self.sync_retry_s, self.sync_max_backoff_s)

    @property
    def inventory_limits(self) -> InventoryLimits:
        return InventoryLimits(
            self.sync_max_pages, self.sync_max_items, self.sync_max_bytes, self.sync_max_seconds
        )

    @property
    def ssrf_allow_list(self) -> list[str]:
        return [entry.strip() for entry in self.ssrf_allow.split(",") if entry.strip()]
