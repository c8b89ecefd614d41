"""AI calls through the shared budget (issue 17): every call waits for a slot of the provider's
and the account's budget (shared by every worker process), and a 429 — after the adapter's own
retries — slows the whole fleet (`AIBudget.release(rate_limited=True)`) and the call waits its
turn again instead of failing the item.

An item's call keeps its slot until the item's own transaction gives it back (`Slot.release_in`,
with the checkpoint): one transaction and its round trips fewer per AI call than a release of
its own. Whatever way the item ends instead, `Slot.release` gives the slot back on its own."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


@dataclass
class CallGate:
    """Bounds this process's calls at once (stage 6's images), for the calls only: the next call
    waits at the gate already holding its budget slot. Taking a slot is a transaction of its own
    (under the budget's lock); taken only once a call had ended, it left a gate's place idle
    meanwhile — a tenth of each image call on a quiet machine, a quarter on a loaded one
    (bench/pipeline.py stage 6). One call per gate waits so, and only for the gate: one slot
    of the shared budget held ahead, for at most about one call's time."""

    size: int
    calls: asyncio.Semaphore = field(init=False)
    ahead: asyncio.Lock = field(init=False)

    def __post_init__(self) -> None:
        self.calls = asyncio.Semaphore(self.size)
        self.ahead = asyncio.Lock()


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
    gate: CallGate | None = None,
) -> tuple[T, Slot]:
    """The call's result and its slot, still held (the caller releases it); a failed call's slot
    is given back here. `first`: the call's first look, taken in the caller's own read
    (`AIBudget.first_look_in`) — the call id and whether it was granted. `gate`: this process's
    bound on such calls at once (`CallGate`)."""
    if budget is None:
        async with gate.calls if gate is not None else contextlib.nullcontext():
            return await call(), Slot(None, None)
    for attempt in range(1, RATE_LIMITED_ATTEMPTS + 1):
        if gate is None:
            token = await _slot(budget, account_id, first)
        else:
            async with gate.ahead:  # the next call: its slot first, then its place at the gate
                token = await _slot(budget, account_id, first)
                try:
                    await gate.calls.acquire()
                except BaseException:
                    await asyncio.shield(budget.release(token))
                    raise
        first = None
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
        finally:
            if gate is not None:
                gate.calls.release()
        return result, Slot(budget, token)
    raise AssertionError("unreachable")


async def _slot(
    budget: AIBudget, account_id: uuid.UUID, first: tuple[uuid.UUID, bool] | None
) -> uuid.UUID:
    if first is None:
        return await budget.acquire(account_id)
    call_id, granted = first
    try:
        return call_id if granted else await budget.acquire(account_id, call_id)
    except BaseException:  # its row is dropped by `acquire`, or released here
        if granted:
            await asyncio.shield(budget.release(call_id))
        raise
