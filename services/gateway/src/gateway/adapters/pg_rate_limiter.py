"""A token bucket in one PostgreSQL statement, shared by every gateway replica.

The upsert's row lock serialises concurrent takers of one bucket; the refill is computed from the
elapsed wall-clock time (`clock_timestamp()`, not the transaction's `now()`), and the statement
records whether this take was allowed so RETURNING can say so."""

from __future__ import annotations

import math

import sqlalchemy as sa
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
        self._engine = engine

    async def take(self, bucket: str, rate_per_s: float, burst: int) -> RateDecision:
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    TAKE, {"bucket": bucket, "rate": float(rate_per_s), "burst": float(burst)}
                )
            ).one()
        tokens = float(row.tokens)
        if row.allowed:
            return RateDecision(True, burst, int(tokens), 0)
        wait = (1 - tokens) / rate_per_s if rate_per_s > 0 else 3600
        return RateDecision(False, burst, 0, max(1, math.ceil(wait)))
