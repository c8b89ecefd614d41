"""Settings of the integration service: environment variables prefixed `INTEGRATION_`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


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
    sync_interval_s: float = 3600.0
    scheduler_tick_s: float = 30.0

    @property
    def ssrf_allow_list(self) -> list[str]:
        return [entry.strip() for entry in self.ssrf_allow.split(",") if entry.strip()]
