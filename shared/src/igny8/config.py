"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from igny8.service_keys import (
    InvalidServiceToken,
    PublicKeys,
    parse_private_key,
    parse_public_keys,
)


class ServiceSettings(BaseSettings):
    """`<SERVICE>_DATABASE_URL`, `<SERVICE>_HTTP_PORT`, … plus the platform-wide variables."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    database_url: str = "postgresql+asyncpg://localhost/igny8"
    database_pool_size: int = 10
    database_ping_after_idle_s: float = Field(default=1.0, ge=0)
    """A pooled connection idle longer than this is pinged before use; 0 pings at every
    checkout (`pool_pre_ping`: three round trips with asyncpg). See `igny8.db.create_engine`."""
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    role: Literal["all", "api", "worker"] = "all"
    migrate_on_start: bool = True
    log_level: str = "INFO"
    # Platform-wide variables carry no service prefix.
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    service_private_key: SecretStr = SecretStr("")
    """This service's own Ed25519 signing key (`<SERVICE>_SERVICE_PRIVATE_KEY`, read with the
    service's prefix: a process holds no other service's key)."""
    service_public_keys: str = Field(
        default="",
        validation_alias=AliasChoices("IGNY8_SERVICE_PUBLIC_KEYS", "service_public_keys"),
    )
    """Every service's public key, `gateway:<key>,billing:<key>,…` (see `igny8.service_keys`)."""
    consumer_max_attempts: int = 5
    consumer_retry_backoff_s: float = 0.2
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 1_000
    outbox_batch_size: int = 500
    outbox_poll_interval_s: float = 0.5
    topic_partitions: int | None = None
    """Overrides every registry topic's partition count when set (tests, small clusters)."""
    create_topics: bool = Field(default=True, validation_alias=AliasChoices("IGNY8_CREATE_TOPICS"))
    """Create missing registry topics at worker start. On for local runs; off in Kubernetes, where
    Strimzi `KafkaTopic` objects own the topics (a worker starting first would otherwise create
    them with settings the topic operator cannot repair)."""
    topic_replication_factor: int = Field(
        default=1, ge=1, validation_alias=AliasChoices("IGNY8_TOPIC_REPLICATION_FACTOR")
    )
    """Replication factor of the topics this service creates (when it creates any)."""

    def public_keys(self) -> PublicKeys:
        """The callers' public keys, parsed (cached per value)."""
        return parse_public_keys(self.service_public_keys)

    def signing_key(self) -> Ed25519PrivateKey:
        """This service's private key; a clear error naming the variable when it is missing."""
        value = self.service_private_key.get_secret_value()
        if not value:
            variable = f"{self.model_config.get('env_prefix', '')}SERVICE_PRIVATE_KEY"
            raise InvalidServiceToken(
                f"{variable} is not set (`make infra-up` writes development keys to .env.infra)"
            )
        return parse_private_key(value)
