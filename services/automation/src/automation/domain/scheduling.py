"""Fair run slots (issue 17): which waiting run gets the next free slot.

A run waits `queued` until a worker has a free slot. Slots go to the account with the fewest runs
in progress (counting the ones just given out), then to the oldest waiting run — so an agency's
forty queued runs cannot keep a small account's two waiting behind them: the small account's
runs take the next free slots. An account at its cap of runs in progress waits whatever is free.
Pure: the adapter reads the counts and the waiting runs, this decides.
"""

from __future__ import annotations

import heapq
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Waiting:
    """A queued run."""

    run_id: uuid.UUID
    account_id: uuid.UUID
    queued_at: datetime


@dataclass(frozen=True)
class Caps:
    """Caps per account (the defaults are settings; an account may have its own)."""

    runs_per_account: int = 1_000_000
    """Runs in progress (reserving, running, finishing) at once per account."""
    runs_for_account: Mapping[uuid.UUID, int] = field(default_factory=dict)

    def runs(self, account_id: uuid.UUID) -> int:
        return self.runs_for_account.get(account_id, self.runs_per_account)


def fair_order(
    waiting: Iterable[Waiting],
    in_progress: Mapping[uuid.UUID, int],
    caps: Caps | None = None,
) -> tuple[list[Waiting], list[Waiting]]:
    """The order in which waiting runs would get slots if they freed up one by one, and the runs
    passed over because their account reached its cap (in their own fair order, after the
    others: they wait until the account has fewer runs in progress)."""
    caps = caps or Caps()
    by_account: dict[uuid.UUID, deque[Waiting]] = defaultdict(deque)
    for run in sorted(waiting, key=lambda w: (w.queued_at, w.run_id)):
        by_account[run.account_id].append(run)
    counts = {a: in_progress.get(a, 0) for a in by_account}
    heap = [(counts[a], runs[0].queued_at, runs[0].run_id, a) for a, runs in by_account.items()]
    heapq.heapify(heap)
    order: list[Waiting] = []
    blocked: list[Waiting] = []
    while heap:
        count, _, _, account = heapq.heappop(heap)
        runs = by_account[account]
        if count >= caps.runs(account):
            blocked.extend(runs)
            continue
        order.append(runs.popleft())
        counts[account] = count + 1
        if runs:
            heapq.heappush(heap, (count + 1, runs[0].queued_at, runs[0].run_id, account))
    return order, blocked


def choose(
    waiting: Iterable[Waiting],
    in_progress: Mapping[uuid.UUID, int],
    free: int,
    caps: Caps | None = None,
) -> list[Waiting]:
    """The runs that take `free` slots now."""
    return fair_order(waiting, in_progress, caps)[0][: max(free, 0)]


def positions(
    waiting: Iterable[Waiting],
    in_progress: Mapping[uuid.UUID, int],
    caps: Caps | None = None,
) -> dict[uuid.UUID, int]:
    """Each waiting run's place in the queue (1 = the next free slot is its own)."""
    order, blocked = fair_order(waiting, in_progress, caps)
    return {run.run_id: place for place, run in enumerate(order + blocked, start=1)}
