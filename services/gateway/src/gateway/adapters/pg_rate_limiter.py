"""A token bucket in one PostgreSQL statement, shared by every gateway replica.

The upsert's row lock serialises concurrent takers of one bucket; the refill is computed from the
elapsed wall-clock time (`clock_timestamp()`, not the transaction's `now()`), and the statement
records whether this take was allowed so RETURNING can say so.

Every gateway request takes from a bucket, so the take is one network round trip: the statement
runs in autocommit (no BEGIN/COMMIT around it) on the gateway's single-statement engine
(`adapters/pg_engines.py`: no pre-ping on checkout), which the stream fan-out's reads share and
the bootstrap disposes at shutdown. Without the pre-ping a connection the server dropped fails on
use instead of on checkout: SQLAlchemy then invalidates it and the take is made once more, on a
fresh connection. A take that reached the server before the connection dropped may so be counted
twice — the error is on the side of limiting, never of letting more through."""

from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.ports import RateDecision

_REFILL = (
    "least(:burst, b.tokens + :rate * "
    "greatest(0, extract(epoch FROM clock_timestamp() - b.updated_at)))"
)
TAKE = sa.text(
    f"""
    INSERT INTO rate_buckets AS b (bucket, tokens, allowed, updated_at)
    VALUES (:bucket, :burst - 1, true, clock_timestamp())
    ON CONFLICT (bucket) DO UPDATE SET
        tokens = CASE WHEN {_REFILL} >= 1 THEN {_REFILL} - 1 ELSE {_REFILL} END,
        allowed = {_REFILL} >= 1,
        updated_at = clock_timestamp()
    RETURNING tokens, allowed
    """
)


class PgRateLimiter:
    def __init__(self, engine: AsyncEngine) -> None:
        # Autocommit whatever engine is given: the single-statement engine already is, but tests
        # hand in their ordinary (transactional, pre-pinging) one.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def take(self, bucket: str, rate_per_s: float, burst: int) -> RateDecision:
        values = {"bucket": bucket, "rate": float(rate_per_s), "burst": float(burst)}
        for attempt in (1, 2):
            try:
                async with self._engine.connect() as conn:
                    row = (await conn.execute(TAKE, values)).one()
                break
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        tokens = float(row.tokens)
        if row.allowed:
            return RateDecision(True, burst, int(tokens), 0)
        wait = (1 - tokens) / rate_per_s if rate_per_s > 0 else 3600
        return RateDecision(False, burst, 0, max(1, math.ceil(wait)))
