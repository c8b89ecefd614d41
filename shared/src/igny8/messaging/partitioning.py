"""Kafka's default key → partition mapping, with the key's hash remembered.

aiokafka hashes every key with a pure-Python murmur2 (about 6% of the relay's CPU in
bench/bus.py). Keys repeat (an account, a site, a run), so the hash of each recent key is kept:
the partition chosen is exactly the default partitioner's, so per-key order across producers that
use either one holds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65_536)
def _positive_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


def cached_partitioner(key: bytes | None, all_partitions: Sequence[int], available: Any) -> int:
    """A drop-in `partitioner=` for AIOKafkaProducer (same choice as DefaultPartitioner)."""
    if key is None:
        chosen: int = random.choice(available or all_partitions)
        return chosen
    return all_partitions[_positive_hash(bytes(key)) % len(all_partitions)]
