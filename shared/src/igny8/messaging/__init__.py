"""Kafka messaging with effects exactly once: outbox + relay, inbox, retries and dead letters."""

from igny8.messaging.bus import Messaging, create_broker
from igny8.messaging.consumer import InboxConsumer
from igny8.messaging.entities import (
    keep_newest,
    keep_site,
    site_replica_table,
    site_replica_values,
)
from igny8.messaging.outbox import OutboxWriter
from igny8.messaging.relay import OutboxRelay, RelaySettings
from igny8.messaging.subscriptions import (
    BatchHandler,
    ConsumerSettings,
    DeadLetter,
    Subscription,
)
from igny8.messaging.tables import (
    create_messaging_tables,
    drop_messaging_tables,
    inbox,
    include_messaging_tables,
    outbox,
)
from igny8.messaging.topics import ensure_topics

__all__ = [
    "BatchHandler",
    "ConsumerSettings",
    "DeadLetter",
    "InboxConsumer",
    "Messaging",
    "OutboxRelay",
    "OutboxWriter",
    "RelaySettings",
    "Subscription",
    "create_broker",
    "create_messaging_tables",
    "drop_messaging_tables",
    "ensure_topics",
    "inbox",
    "include_messaging_tables",
    "keep_newest",
    "keep_site",
    "outbox",
    "site_replica_table",
    "site_replica_values",
]
