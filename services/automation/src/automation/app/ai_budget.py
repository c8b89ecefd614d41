"""AI calls through the shared budget (issue 17): every call waits for a slot of the provider's
and the account's budget (shared by every worker process), and a 429 — after the adapter's own
retries — slows the whole fleet (`AIBudget.release(rate_limited=True)`) and the call waits its
turn again instead of failing the item.

An item's call keeps its slot until the item's own transaction gives it back (`Slot.release_in`,
with the checkpoint): one transaction and its round trips fewer per AI call than a release of
its own. Whatever way the item ends instead, `Slot.release` gives the slot back on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from automation.domain.ai import AIRateLimited
from automation.ports import AIBudget
from igny8.uow import UnitOfWork

T = TypeVar("T")
RATE_LIMITED_ATTEMPTS = 20
"""A call still rate-limited after this many fleet-wide waits fails like any AI error."""


@dataclass
class Slot:
    """A granted slot of the budget, still held after its call succeeded."""

    budget: AIBudget | None
    token: uuid.UUID | None
    released: bool = False

    async def release_in(self, uow: UnitOfWork) -> None:
        """Give the slot back in `uow`'s transaction; call `committed` once it committed."""
        if self.budget is not None and self.token is not None and not self.released:
            await self.budget.release_in(uow, self.token)

    def committed(self) -> None:
        self.released = True

    async def release(self) -> None:
        """Give the slot back on its own (no-op once a committed transaction gave it back)."""
        if self.released:
            return
        self.released = True
        if self.budget is not None and self.token is not None:
            await asyncio.shield(self.budget.release(self.token))


async def within_budget(
    budget: AIBudget | None, account_id: uuid.UUID, call: Callable[[], Awaitable[T]]
) -> T:
    result, slot = await holding_budget(budget, account_id, call)
    await slot.release()
    return result


async def holding_budget(
    budget: AIBudget | None,
    account_id: uuid.UUID,
    call: Callable[[], Awaitable[T]],
    first: tuple[uuid.UUID, bool] | None = None,
) -> tuple[T, Slot]:
    """The call's result and its slot, still held (the caller releases it); a failed call's slot
    is given back here. `first`: the call's first look, taken in the caller's own read
    (`AIBudget.first_look_in`) — the call id and whether it was granted."""
    if budget is None:
        return await call(), Slot(None, None)
    for attempt in range(1, RATE_LIMITED_ATTEMPTS + 1):
        if first is not None:
            call_id, granted = first
            first = None
            try:
                token = call_id if granted else await budget.acquire(account_id, call_id)
            except BaseException:  # its row is dropped by `acquire`, or released here
                if granted:
                    await asyncio.shield(budget.release(call_id))
                raise
        else:
            token = await budget.acquire(account_id)
        try:
            result = await call()
        except AIRateLimited:
            await asyncio.shield(budget.release(token, rate_limited=True))
            if attempt == RATE_LIMITED_ATTEMPTS:
                raise
            continue
        except BaseException:
            await asyncio.shield(budget.release(token))
            raise
        return result, Slot(budget, token)
    raise AssertionError("unreachable")
