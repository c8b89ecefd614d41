"""The engine of the gateway's per-request and per-event statements (the rate limit's take, the
stream fan-out's reads): autocommit, so a single statement is one network round trip without a
BEGIN and a COMMIT around it, and no pre-ping on checkout (another round trip each time). A
connection the server dropped then fails on use rather than on checkout: its users make the
statement once more (SQLAlchemy has invalidated the connection) or wait for their next poll."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def single_statement_engine(url: str, pool_size: int) -> AsyncEngine:
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=False,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
    )
