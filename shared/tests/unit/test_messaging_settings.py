"""Consumer and relay settings come from the environment like every service setting; the relay's
cached partitioner picks exactly the partition Kafka's default partitioner picks."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings
from igny8.db import create_engine, session_factory
from igny8.messaging.partitioning import cached_partitioner
from igny8.runtime import messaging_for


class PingerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PINGER_")


def test_consumer_and_relay_settings_are_read_from_the_service_environment(monkeypatch):
    for name, value in {
        "PINGER_CONSUMER_HOLD_BATCH_S": "12.5",
        "PINGER_CONSUMER_TRANSIENT_BACKOFF_MAX_S": "2",
        "PINGER_CONSUMER_MAX_BATCH": "500",
        "PINGER_CONSUMER_BATCH_TIMEOUT_MS": "20",
        "PINGER_CONSUMER_FETCH_MIN_BYTES": "4096",
        "PINGER_CONSUMER_FETCH_MAX_WAIT_MS": "25",
        "PINGER_OUTBOX_LINGER_MS": "10",
        "PINGER_OUTBOX_MAX_BATCH_BYTES": "1048576",
        "PINGER_OUTBOX_IN_FLIGHT_BATCHES": "2",
        "PINGER_OUTBOX_COMPRESSION_TYPE": "gzip",
    }.items():
        monkeypatch.setenv(name, value)
    settings = PingerSettings()
    engine = create_engine("postgresql+asyncpg://127.0.0.1:1/none")  # never connected
    messaging = messaging_for("pinger", settings, engine, session_factory(engine))
    consumer, relay = messaging.consumer_settings, messaging.relay_settings
    assert (consumer.hold_batch_s, consumer.transient_backoff_max_s) == (12.5, 2.0)
    assert (consumer.max_batch, consumer.batch_timeout_ms) == (500, 20)
    assert (consumer.fetch_min_bytes, consumer.fetch_max_wait_ms) == (4096, 25)
    assert (relay.linger_ms, relay.max_batch_bytes, relay.in_flight_batches) == (10, 1048576, 2)
    assert relay.compression_type == "gzip"


def test_a_hold_longer_than_half_the_poll_interval_is_refused(monkeypatch):
    monkeypatch.setenv("PINGER_CONSUMER_HOLD_BATCH_S", "200")
    settings = PingerSettings()
    engine = create_engine("postgresql+asyncpg://127.0.0.1:1/none")
    with pytest.raises(ValueError, match="hold_batch_s"):
        messaging_for("pinger", settings, engine, session_factory(engine))


def test_the_cached_partitioner_agrees_with_kafkas_default():
    default = DefaultPartitioner()
    for n in range(3000):
        key = str(uuid.uuid4()).encode() if n % 3 else f"account-{n % 7}".encode()
        partitions = list(range(1 + n % 12))
        assert cached_partitioner(key, partitions, partitions) == default(
            key, partitions, partitions
        )
    assert cached_partitioner(None, [0, 1, 2], [1]) == 1
