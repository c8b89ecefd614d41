"""Transient or poison: which handler failures say nothing about the message itself.

Transient failures come from the infrastructure — the database unreachable or restarting, the
connection pool exhausted, a serialization failure or deadlock that a retry resolves. They are
retried for as long as they last and never dead-lettered (DESIGN §3, "transient is not poison").
Everything else is deterministic until proven otherwise: retried a bounded number of times, then
dead-lettered, but only while the database answers (see `InboxConsumer`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import sqlalchemy.exc

# SQLSTATE classes and codes a retry can cure: 08 connection exception, 53 insufficient
# resources (too many connections, out of memory, disk full), 57P0x the server shutting down or
# starting up, 40001 serialization failure, 40P01 deadlock, 55P03 lock not available.
TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P")
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted: the server is not there
    sqlalchemy.exc.TimeoutError,  # the pool had no connection to give in time
    sqlalchemy.exc.DisconnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InsufficientResourcesError,
    asyncpg.LockNotAvailableError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and, through database-driver exceptions only, what they wrap (SQLAlchemy's
    `orig`) and what caused them. An HTTP client's error caused by a refused connection is the
    handler's business (an AI provider down), not the database's: its causes are not followed."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if not type(current).__module__.startswith(("sqlalchemy", "asyncpg")):
            continue
        for linked in (
            getattr(current, "orig", None),
            current.__cause__,
            current.__context__,
        ):
            if isinstance(linked, BaseException):
                todo.append(linked)


def is_transient(exc: BaseException) -> bool:
    """True when the failure comes from the infrastructure, not from the message."""
    for link in _chain(exc):
        if isinstance(link, _TRANSIENT_TYPES):
            return True
        if isinstance(link, sqlalchemy.exc.DBAPIError) and link.connection_invalidated:
            return True
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str) and (
            state in TRANSIENT_SQLSTATES or state.startswith(TRANSIENT_SQLSTATE_PREFIXES)
        ):
            return True
    return False


@dataclass
class _Waiting:
    since: str
    error: str
    attempts: int = 0
    last_at: float = 0.0


class WaitingRecords:
    """Which records of one consumer are being retried on a failing infrastructure (/readyz)."""

    def __init__(self, stale_after_s: float) -> None:
        self._stale_after_s = stale_after_s
        self._records: dict[tuple[str, int, int], _Waiting] = {}

    def __bool__(self) -> bool:
        return bool(self._records)

    def failed(self, record: Any, exc: BaseException) -> None:
        key = (record.topic, record.partition, record.offset)
        error = repr(exc)[:500]
        waiting = self._records.setdefault(key, _Waiting(datetime.now(UTC).isoformat(), error))
        waiting.error = error
        waiting.attempts += 1
        waiting.last_at = time.monotonic()

    def recovered(self, record: Any) -> bool:
        """Forget the record; True when it had been waiting."""
        return self._records.pop((record.topic, record.partition, record.offset), None) is not None

    def snapshot(self) -> list[dict[str, Any]]:
        # A waiting record fails again at least every backoff cap; one not seen for longer was
        # handed back and went elsewhere (its partition was revoked).
        stale = time.monotonic() - self._stale_after_s
        for key in [k for k, w in self._records.items() if w.last_at < stale]:
            del self._records[key]
        return [
            {
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "since": w.since,
                "attempts": w.attempts,
                "error": w.error,
            }
            for (topic, partition, offset), w in self._records.items()
        ]
