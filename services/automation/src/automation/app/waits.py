"""Waits without per-run polling (issue 17): a driver waiting for something another process does
(billing's answer, images made by the image consumers, captures settled) is woken by that
process's NOTIFY for its run (`RunSignals`) and otherwise looks again less and less often while
nothing changes — instead of a new transaction every 100 ms for every run, which made the
database the cost that grew with the number of sites."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field

from automation.ports import RunSignals

MAX_WAIT_S = 1.0
"""The longest a driver waits between two looks (pause and cancel still take effect within it)."""


@dataclass
class Waiter:
    run_id: uuid.UUID
    signals: RunSignals | None
    low: float
    high: float = MAX_WAIT_S
    factor: float = 1.5
    current: float = field(init=False)
    event: asyncio.Event | None = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.low
        self.event = self.signals.event(self.run_id) if self.signals is not None else None

    def reset(self) -> None:
        """Something changed: look again soon."""
        self.current = self.low

    def arm(self) -> None:
        """Before reading the state: a signal from now on ends the next wait early."""
        if self.event is not None:
            self.event.clear()

    async def wait(self) -> None:
        if self.event is None:
            await asyncio.sleep(self.current)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), self.current)
        self.current = min(self.current * self.factor, max(self.high, self.low))

    def close(self) -> None:
        if self.signals is not None:
            self.signals.forget(self.run_id)


def waiter(eng_poll_s: float, run_id: uuid.UUID, signals: RunSignals | None) -> Waiter:
    """Signalled: a slow safety net (the NOTIFY wakes it); unsignalled: from a fifth of the poll
    interval, growing."""
    low = eng_poll_s * 2 if signals is not None else eng_poll_s / 5
    return Waiter(run_id, signals, low=low)
