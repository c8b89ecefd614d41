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
    gc_freeze_on_start: bool = True
    """What the process built before serving (modules, the app, its models) is moved out of the
    garbage collector's scans: see `igny8.runtime.settle_the_heap`."""
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
    consumer_hold_batch_s: float = 30.0
    """How long a consumed batch waits on failing infrastructure before it is handed back."""
    consumer_transient_backoff_max_s: float = 5.0
    """Cap of the backoff between attempts while the infrastructure is failing."""
    consumer_max_poll_interval_ms: int = 300_000
    consumer_max_batch: int = 200
    """Records per poll (aiokafka max_records): the batch one transaction applies."""
    consumer_batch_timeout_ms: int = 50
    """How long a poll waits when nothing is buffered yet (a trickle's latency floor)."""
    consumer_fetch_min_bytes: int = 1
    """The broker answers a fetch once this many bytes are ready (or fetch_max_wait_ms passed):
    more gathers bigger batches under load, at the price of a trickle's latency."""
    consumer_fetch_max_wait_ms: int = 500
    consumer_batch_lanes: int = 1
    """A batched subscription applies a fetched batch as this many transactions side by side,
    split by key (per-key order holds): one's Python work overlaps another's database waits where
    a core is idle. 1 (one transaction) unless measured to pay on the machine."""
    outbox_batch_size: int = 500
    outbox_poll_interval_s: float = 0.5
    outbox_in_flight_batches: int = 4
    outbox_linger_ms: int = 0
    """The relay producer's linger. 0: the relay hands the producer whole record batches (one per
    partition per read), so lingering gathers nothing and only delayed each batch (ADR 0001)."""
    outbox_max_batch_bytes: int = 512 * 1024
    """The relay producer's record-batch size per partition."""
    outbox_compression_type: Literal["gzip", "snappy", "lz4", "zstd"] | None = None
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
