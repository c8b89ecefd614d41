"""Conventions of the Kafka transport every producer and consumer shares: size limits and the
names of dead-letter topics and replay headers (constants only; no infrastructure imports)."""

from __future__ import annotations

from igny8.contracts.registry import MAX_MESSAGE_BYTES

# Size limits, each layer with room for what the next one adds. Writers keep envelopes under
# MAX_MESSAGE_BYTES (1 MiB); topics take a record up to 64 KiB more (headers, batch framing);
# dead-letter topics take 64 KiB more again, because dead-lettering copies a record the topic
# accepted and adds its own headers (bounded); producers may send anything a dead-letter topic
# takes, so the broker, not the client, is the one that refuses.
TOPIC_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES + 65_536
DLQ_MAX_MESSAGE_BYTES = TOPIC_MAX_MESSAGE_BYTES + 65_536
PRODUCER_MAX_REQUEST_BYTES = DLQ_MAX_MESSAGE_BYTES

DLQ_SUFFIX = ".dlq"
#: Headers of a replayed dead letter (`igny8 dlq replay`): meaningful for one delivery only.
REPLAY_HEADER_PREFIX = "igny8-replay-"
