"""Fair run slots (issue 17): which waiting run gets the next free slot.

A run waits `queued` until a worker has a free slot. Slots go to the account with the fewest runs
in progress (counting the ones just given out), then to the oldest waiting run — so an agency's
forty queued runs cannot keep a small account's two waiting behind them: the small account's
runs take the next free slots. An account at its cap of runs in progress waits whatever is free.

A run holds its slot until it ends, and production runs last minutes to hours: a newcomer would
wait a whole run for a slot. So an account holding more than its share gives slots back
(`yields`): one of its runs is asked to yield, and at its next safe point (before an item, at a
stage boundary) it goes back to `queued` with its checkpoints and holds, and the slot goes to the
waiting account. The newcomer waits one item, not one run.
Pure: the adapter reads the counts and the waiting runs, this decides.
"""

from __future__ import annotations

import heapq
import uuid
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Waiting:
    """A queued run."""

    run_id: uuid.UUID
    account_id: uuid.UUID
    queued_at: datetime


@dataclass(frozen=True)
class QueuedRun:
    """What announcing a queued run's place needs of it."""

    run_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    stages: tuple[int, ...]
    completed: frozenset[int] = frozenset()
    """Stages it completed before it gave its slot back (none for a run that never started)."""

    @property
    def next_stage(self) -> int:
        """The stage it starts or resumes at when admitted: its first stage not completed (the
        driver skips completed ones), the last one when all are (it only has to end)."""
        ordered = sorted(self.stages)
        return next((s for s in ordered if s not in self.completed), ordered[-1])


@dataclass(frozen=True)
class Admission:
    """A queued run given a slot: the new lease's fencing token, and whether it had started
    before and given its slot back (`readmitted`: it goes on as `running`)."""

    token: int
    readmitted: bool
    account_id: uuid.UUID
    site_id: uuid.UUID
    stages: tuple[int, ...]
    credits_charged: int = 0


@dataclass(frozen=True)
class Caps:
    """Caps per account on runs in progress or on AI calls in flight. The defaults are settings;
    an account's own cap wins over its plan's, which wins over the default. Billing announces no
    plans, so `plan_of` (account → plan name) is a setting too (`AUTOMATION_ACCOUNT_PLANS`)."""

    per_account: int = 1_000_000
    """The default: at once per account."""
    for_account: Mapping[uuid.UUID, int] = field(default_factory=dict)
    for_plan: Mapping[str, int] = field(default_factory=dict)
    plan_of: Mapping[uuid.UUID, str] = field(default_factory=dict)

    def cap(self, account_id: uuid.UUID) -> int:
        if account_id in self.for_account:
            return self.for_account[account_id]
        plan = self.plan_of.get(account_id)
        if plan is not None and plan in self.for_plan:
            return self.for_plan[plan]
        return self.per_account


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
        if count >= caps.cap(account):
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


def yields(
    waiting: Iterable[Waiting],
    in_progress: Mapping[uuid.UUID, int],
    yieldable: Mapping[uuid.UUID, int],
    leaving: int = 0,
    caps: Caps | None = None,
) -> dict[uuid.UUID, int]:
    """How many runs each account should give back so that waiting runs get slots now: while
    the next waiting run's account (in the fair order) holds at least two runs fewer than the
    account holding most, that account gives one back — with a gap of one the two would only
    trade the slot back and forth. `in_progress` leaves out runs already asked to yield;
    `yieldable` counts the runs per account that can be asked (running, nothing asked yet);
    the `leaving` slots of those already asked go to the first waiting runs."""
    order, _ = fair_order(waiting, in_progress, caps)
    counts = dict(in_progress)
    spare = dict(yieldable)
    given: dict[uuid.UUID, int] = {}
    for place, run in enumerate(order):
        mine = counts.get(run.account_id, 0)
        if place < leaving:
            counts[run.account_id] = mine + 1
            continue
        donors = [a for a, n in spare.items() if n > 0 and a != run.account_id]
        if not donors:
            break
        donor = max(donors, key=lambda a: (counts.get(a, 0), str(a)))
        if counts.get(donor, 0) < mine + 2:
            break
        counts[donor] -= 1
        spare[donor] -= 1
        counts[run.account_id] = mine + 1
        given[donor] = given.get(donor, 0) + 1
    return given


def still_yields(
    account_id: uuid.UUID,
    waiting: Iterable[Waiting],
    in_progress: Mapping[uuid.UUID, int],
    yieldable: Mapping[uuid.UUID, int],
    asked: Mapping[uuid.UUID, int],
    caps: Caps | None = None,
) -> bool:
    """Whether a run of `account_id` asked to yield still gives its slot back, decided again at
    its safe point (under the admission lock, like the request). The request was decided from
    counts that may be gone by then: another worker admitted the newcomer into a slot that freed
    up, or the newcomer was cancelled. `asked` counts per account the runs asked that still
    hold their slot, this one included; the decision is `yields` with this run as one that could
    be asked (the others still leaving), so the run leaves only when a run of an account
    holding at least two fewer still waits for a slot that no leaving run will give it."""
    others = dict(asked)
    others[account_id] = max(others.get(account_id, 0) - 1, 0)
    spare = dict(yieldable)
    spare[account_id] = spare.get(account_id, 0) + 1
    staying = {a: n - others.get(a, 0) for a, n in in_progress.items()}
    given = yields(waiting, staying, spare, sum(others.values()), caps)
    return given.get(account_id, 0) > 0


def announcements(
    changed: Mapping[uuid.UUID, int],
    announced_at: Mapping[uuid.UUID, datetime | None],
    now: datetime,
    every: timedelta,
) -> dict[uuid.UUID, int]:
    """The changed places to store and announce now: those whose run was last announced at least
    `every` ago (or never). The others keep their stored place — still a change at the next
    recomputation — so a run's stream carries at most one place per `every`, and the latest."""
    due: dict[uuid.UUID, int] = {}
    for run_id, place in changed.items():
        last = announced_at.get(run_id)
        if last is None or now - last >= every:
            due[run_id] = place
    return due
