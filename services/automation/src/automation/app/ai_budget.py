"""AI calls through the shared budget (issue 17): every call waits for a slot of the provider's
and the account's budget (shared by every worker process), and a 429 — after the adapter's own
retries — slows the whole fleet (`AIBudget.release(rate_limited=True)`) and the call waits its
turn again instead of failing the item."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from automation.domain.ai import AIRateLimited
from automation.ports import AIBudget

T = TypeVar("T")
RATE_LIMITED_ATTEMPTS = 20
"""A call still rate-limited after this many fleet-wide waits fails like any AI error."""


async def within_budget(
    budget: AIBudget | None, account_id: uuid.UUID, call: Callable[[], Awaitable[T]]
) -> T:
    if budget is None:
        return await call()
    for attempt in range(1, RATE_LIMITED_ATTEMPTS + 1):
        slot = await budget.acquire(account_id)
        try:
            result = await call()
        except AIRateLimited:
            await asyncio.shield(budget.release(slot, rate_limited=True))
            if attempt == RATE_LIMITED_ATTEMPTS:
                raise
            continue
        except BaseException:
            await asyncio.shield(budget.release(slot))
            raise
        await asyncio.shield(budget.release(slot))
        return result
    raise AssertionError("unreachable")
