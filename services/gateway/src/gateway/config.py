"""Settings of the gateway service: environment variables prefixed `GATEWAY_`."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    http_port: int = 8100
    # Where the services answer (internal URLs).
    billing_url: str = "http://127.0.0.1:8101"
    automation_url: str = "http://127.0.0.1:8102"
    integration_url: str = "http://127.0.0.1:8103"
    publishing_url: str = "http://127.0.0.1:8104"
    upstream_timeout_s: float = 30.0
    # Request bodies (limits by route: `entrypoints/body_guard.py`).
    body_idle_timeout_s: float = 15.0
    """A body that sends nothing for this long is refused (408) rather than waited for."""
    body_total_timeout_s: float = 120.0
    """The longest a whole body may take to arrive (a 10 MiB import at ~90 KB/s)."""
    # User tokens (bearer JWTs from the identity provider).
    jwt_issuer: str = "https://id.igny8.local/"
    jwt_audience: str = "igny8-api"
    jwt_jwks_file: str = ""
    jwt_jwks_url: str = ""
    jwt_algorithms: str = "RS256,ES256,EdDSA"
    """Asymmetric algorithms accepted with a JWKS; HS256 is used only with `jwt_dev_secret`."""
    jwt_dev_secret: SecretStr = SecretStr("")
    """Development only: a shared HS256 secret (`gateway dev-token`). Empty disables it."""
    # Rate limits: a token bucket per account and per API key, shared by every replica.
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 60
    api_key_rate_limit_per_s: float = 10.0
    api_key_rate_limit_burst: int = 30
    access_cache_s: float = 5.0
    """How long a process remembers a membership or API key it admitted (0: never). A role
    change, removal or revocation made through another replica takes effect here within this
    time; one made through this process at once (see `app/access_cache.py`)."""
    # Live progress.
    sse_heartbeat_s: float = 15.0
    sse_poll_s: float = 0.2
    sse_close_grace_s: float = 2.0
    sse_queue_max: int = 1000
    """Events queued per stream; a slower stream catches up from the table instead."""
    idempotency_ttl_h: int = 24
    stream_retention_h: int = 72
    """How far back `Last-Event-ID` can resume."""
    housekeeping_interval_s: float = 600.0
    # Notifications.
    webhook_allow: str = ""
    """Comma-separated hosts or CIDRs admitted despite being non-public (development, tests)."""
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 8
    webhook_backoff_s: float = 30.0
    webhook_disable_after: int = 20
    """Consecutive failed attempts after which an endpoint is disabled."""
    notify_poll_s: float = 1.0
    smtp_host: str = ""
    """Empty: e-mails stay queued (logged as unsent)."""
    smtp_port: int = 25
    smtp_from: str = "IGNY8 <no-reply@igny8.local>"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    # The console (console/, served at `/`).
    console_dir: str = ""
    """The built console (`make console` writes `console/dist`); empty: that folder of this
    checkout when it exists, else no console is served."""
    console_dev_sign_in: bool = False
    """Development only: the console may mint tokens with `jwt_dev_secret` (`POST
    /v1/console/dev-tokens`). Needs the secret too; never set it in production."""
    console_dev_users: str = "demo-user,ann,bob"
    """Development identities the console offers (any other id can be typed)."""
    oidc_issuer: str = ""
    """The console's OpenID Connect issuer (discovery at `/.well-known/openid-configuration`);
    empty: `jwt_issuer`."""
    oidc_client_id: str = ""
    """The console's public client id (authorization code flow with PKCE); empty: no OIDC."""
    oidc_scopes: str = "openid email profile"
