from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

PING_AFTER_IDLE_S = 1.0
"""A pooled connection idle longer than this is pinged before it is handed out (see below)."""
_IDLE_SINCE = "igny8.idle_since"


def create_engine(
    url: str, pool_size: int = 10, ping_after_idle_s: float = PING_AFTER_IDLE_S
) -> AsyncEngine:
    """The service's engine. A connection that the database (or the network) dropped while it
    sat in the pool must not fail the next unit of work, but SQLAlchemy's `pool_pre_ping` pings
    on every checkout, and with asyncpg a ping is three round trips (BEGIN, `;`, ROLLBACK) — as
    many as a small unit of work's own. So only a connection idle for more than
    `ping_after_idle_s` is pinged (0: every checkout, as `pool_pre_ping`). A connection that
    dies while busy, or within that time, fails its unit once with a disconnect error —
    transient for the consumers' retries, 503 over HTTP — and SQLAlchemy then replaces every
    connection of the pool made before it, as a failed ping would."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=ping_after_idle_s <= 0,
        pool_recycle=1800,
    )
    if ping_after_idle_s > 0:
        _ping_idle_connections(engine, ping_after_idle_s)
    return engine


def _ping_idle_connections(engine: AsyncEngine, after_s: float) -> None:
    dialect = engine.sync_engine.dialect

    @sa.event.listens_for(engine.sync_engine, "checkin")
    def _idle_from_now(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @sa.event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since <= after_s:
            return  # a new connection, or one in use a moment ago
        try:
            # checkout runs inside SQLAlchemy's greenlet, where the async driver can be awaited
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # the pool discards this and every older connection and checks out again
            raise sa.exc.InvalidatePoolError(f"idle connection failed its ping: {error}") from None


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
