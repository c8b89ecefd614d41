"""A work topic's record flow starts only records of partitions still assigned (found by review:
records fetched before a revoke and handed over after it ran here and beside their new owner)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from igny8.messaging.flow import RecordFlow


@dataclass
class Record:
    partition: int
    offset: int
    topic: str = "image.generate"


@dataclass
class Consumer:
    assigned: set[TopicPartition]
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass


def test_records_of_a_partition_revoked_since_the_fetch_are_left_to_its_new_owner() -> None:
    handled: list[tuple[int, int]] = []

    async def handle(record: Record) -> bool:
        handled.append((record.partition, record.offset))
        return True

    async def scenario() -> Consumer:
        flow = RecordFlow(handle, 4)
        kept = TopicPartition("image.generate", 1)
        consumer = Consumer({kept})  # partition 0 was revoked after these records were fetched
        flow.take(consumer, [Record(0, 5), Record(0, 6), Record(1, 9)])
        await flow.drain()
        return consumer

    consumer = asyncio.run(scenario())
    assert handled == [(1, 9)]
    assert all(TopicPartition("image.generate", 0) not in c for c in consumer.commits)
