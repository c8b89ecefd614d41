"""Stage 6's gate bounds this process's image calls; the next call takes its budget slot while
it waits, so a call that ends hands its place to a call ready to go (the slot's transaction no
longer leaves the place idle) — and only one call per gate waits holding a slot."""

from __future__ import annotations

import asyncio
import uuid

from automation.app.ai_budget import CallGate, holding_budget
from igny8.uow import UnitOfWork


class CountingBudget:
    """In-memory AIBudget: slots are always granted; counts those held."""

    def __init__(self) -> None:
        self.held: set[uuid.UUID] = set()
        self.acquired = 0

    async def acquire(self, account_id: uuid.UUID, call_id: uuid.UUID | None = None) -> uuid.UUID:
        await asyncio.sleep(0)  # a transaction of its own
        token = call_id or uuid.uuid4()
        self.held.add(token)
        self.acquired += 1
        return token

    async def first_look_in(self, uow: UnitOfWork, account_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
        raise AssertionError("not used by gated calls")

    async def release(self, token: uuid.UUID, rate_limited: bool = False) -> None:
        self.held.discard(token)

    async def release_in(self, uow: UnitOfWork, token: uuid.UUID) -> None:
        raise AssertionError("not used here")


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_the_next_call_waits_at_the_gate_with_its_slot_and_no_other_does() -> None:
    budget, gate, account = CountingBudget(), CallGate(2), uuid.uuid4()
    ends = [asyncio.Event() for _ in range(5)]
    running: set[int] = set()
    most = 0

    def call(n: int):  # type: ignore[no-untyped-def]
        async def made() -> int:
            nonlocal most
            running.add(n)
            most = max(most, len(running))
            await ends[n].wait()
            running.discard(n)
            return n

        return made

    async def image(n: int) -> int:
        result, slot = await holding_budget(budget, account, call(n), gate=gate)
        await slot.release()  # the item's checkpoint
        return result

    tasks = [asyncio.create_task(image(n)) for n in range(5)]
    await settle()
    assert running == {0, 1}
    assert budget.acquired == 3 and len(budget.held) == 3, "the next call holds its slot"
    ends[0].set()
    await settle()
    assert 0 not in running and len(running) == 2, "the waiting call went at once"
    assert budget.acquired == 4 and len(budget.held) == 3
    for event in ends[1:]:
        event.set()
    assert sorted(await asyncio.gather(*tasks)) == [0, 1, 2, 3, 4]
    assert most == 2 and not budget.held


async def test_a_call_cancelled_while_it_waits_at_the_gate_gives_its_slot_back() -> None:
    budget, gate, account = CountingBudget(), CallGate(1), uuid.uuid4()
    end = asyncio.Event()

    async def slow() -> str:
        await end.wait()
        return "made"

    first = asyncio.create_task(holding_budget(budget, account, slow, gate=gate))
    waiting = asyncio.create_task(holding_budget(budget, account, slow, gate=gate))
    await settle()
    assert len(budget.held) == 2
    waiting.cancel()
    await settle()
    assert waiting.cancelled() and len(budget.held) == 1
    end.set()
    result, slot = await first
    await slot.release()
    assert result == "made" and not budget.held
