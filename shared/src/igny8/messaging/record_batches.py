"""Handing a read batch of outbox rows to the producer as record batches, one per partition.

`AIOKafkaProducer.send` costs a coroutine, a future and an accumulator lookup per record (about a
fifth of the relay's CPU in bench/bus.py). Here the rows are appended to one record batch per
topic-partition (a new one when it is full) and each batch is submitted once: its future answers
for all its rows. Rows keep their order within a partition (appended in outbox order, batches of
a partition submitted in order), the partition is Kafka's default for the key, and each row still
gets its own result, in row order, for the relay's sent-prefix marking.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from igny8.messaging.partitioning import cached_partitioner


def kafka_headers(stored: str | None) -> list[tuple[str, bytes]]:
    """An outbox row's headers (its jsonb column read as text) as Kafka record headers."""
    return [(k, str(v).encode()) for k, v in json.loads(stored or "{}").items()]


async def send_rows(producer: AIOKafkaProducer, rows: Sequence[Any]) -> asyncio.Future[list[Any]]:
    """Submit `rows` (id, topic, key, value, headers); a future of one result per row, in row
    order: the record batch's metadata, or the exception that failed its batch."""
    partitions: dict[str, list[int]] = {}
    headers_of: dict[str, list[tuple[str, bytes]]] = {}  # a transaction's rows share theirs
    open_batches: dict[tuple[str, int], Any] = {}
    closed: list[tuple[Any, str, int]] = []
    pending: list[tuple[tuple[str, int], Any]] = []
    for row in rows:
        if row.topic not in partitions:
            partitions[row.topic] = sorted(await producer.partitions_for(row.topic))
        tp = (row.topic, cached_partitioner(row.key, partitions[row.topic], ()))
        headers = headers_of.get(row.headers)
        if headers is None:
            headers = headers_of[row.headers] = kafka_headers(row.headers)
        builder = open_batches.get(tp)
        if builder is None or (
            builder.append(timestamp=None, key=row.key, value=row.value, headers=headers) is None
        ):
            if builder is not None:  # full: close it, the row opens the next one
                closed.append((builder, *tp))
            builder = open_batches[tp] = producer.create_batch()
            # An empty batch takes any one record; one too large for the broker fails there.
            if (
                builder.append(timestamp=None, key=row.key, value=row.value, headers=headers)
                is None
            ):
                raise RuntimeError("an empty record batch refused a record")
        pending.append((tp, builder))
    closed += [(builder, *tp) for tp, builder in open_batches.items()]
    index = {id(builder): n for n, (builder, _, _) in enumerate(closed)}
    batch_of_row = [index[id(builder)] for _, builder in pending]
    futures: list[asyncio.Future[Any]] = []
    for builder, topic, partition in closed:  # in creation order: a partition's stay in order
        futures.append(await producer.send_batch(builder, topic, partition=partition))

    async def results() -> list[Any]:
        done = await asyncio.gather(*futures, return_exceptions=True)
        return [done[n] for n in batch_of_row]

    return asyncio.ensure_future(results())
