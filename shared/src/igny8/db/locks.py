"""PostgreSQL advisory-lock keys: one derivation for every "one active replica" role."""

from __future__ import annotations

import hashlib


def advisory_lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (what pg_try_advisory_lock takes).

    Hashing a name instead of hard-coding numbers keeps keys from colliding across jobs and
    services without a registry of magic constants.
    """
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
