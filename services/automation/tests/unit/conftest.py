"""An in-memory unit of work for the credit-hold and item logic (no I/O)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from automation.app.run_context import RunContext
from automation.app.run_engine import RunEngine
from automation.domain.ai import AIResult, AIUsage
from automation.domain.config import AutomationConfig
from automation.domain.runs import DRIVEN, LeaseLost, Run, RunStatus
from igny8.clock import SystemClock
from igny8.contracts import credits as wire
from igny8.credit_saga import Hold, HoldStatus

PRICES = {
    "clustering": wire.Price(unit="per_request", credits_per_unit=10, minimum_credits=10),
    "content_generation": wire.Price(unit="per_100_words", credits_per_unit=1, minimum_credits=5),
}


class FakeRuns:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Run] = {}
        self.items: FakeItems | None = None
        """The items `peek` looks at (one world's)."""

    async def run(self, run_id: uuid.UUID, account_id: uuid.UUID | None = None) -> Run | None:
        return self.rows.get(run_id)

    async def guard(
        self,
        run_id: uuid.UUID,
        token: int,
        statuses: tuple[RunStatus, ...] = DRIVEN,
        *,
        lock: bool = True,
    ) -> Run:
        row = self.rows[run_id]
        if row.fencing_token != token or row.status not in statuses:
            raise LeaseLost(str(run_id))
        return row

    async def peek(self, run_id: uuid.UUID, token: int, item_key: str) -> tuple[Run, bool]:
        assert self.items is not None
        return await self.guard(run_id, token), await self.items.item_done(run_id, item_key)

    async def transition(
        self, run_id: uuid.UUID, expected: tuple[RunStatus, ...], status: RunStatus, **values: Any
    ) -> bool:
        row = self.rows[run_id]
        if row.status not in expected:
            return False
        self.rows[run_id] = dataclasses.replace(row, status=status, **values)
        return True

    async def update_run(self, run_id: uuid.UUID, **values: Any) -> None:
        self.rows[run_id] = dataclasses.replace(self.rows[run_id], **values)

    async def add_charge(self, run_id: uuid.UUID, credits: int) -> None:
        row = self.rows[run_id]
        self.rows[run_id] = dataclasses.replace(row, credits_charged=row.credits_charged + credits)

    def set(self, run_id: uuid.UUID, **values: Any) -> None:
        """What another process would change meanwhile (a cancel, a pause)."""
        self.rows[run_id] = dataclasses.replace(self.rows[run_id], **values)


class FakeItems:
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    async def item_done(self, run_id: uuid.UUID, key: str) -> bool:
        return self.states.get(key, {}).get("status") == "done"

    async def checkpoint(
        self,
        run_id: uuid.UUID,
        item_key: str,
        stage: int,
        status: str,
        commit_id: uuid.UUID | None = None,
        credits: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> None:
        if self.states.get(item_key, {}).get("status") != "done":
            self.states[item_key] = {"status": status, "credits": credits, "detail": detail}

    async def unsettled_captures(self, run_id: uuid.UUID) -> int:
        return 0


class FakeHolds:
    """A HoldBook; `answer` plays billing: called with each new hold's request."""

    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Hold] = {}
        self.owner: dict[uuid.UUID, uuid.UUID] = {}
        self.answer: Callable[[Sequence[wire.ReserveItem]], int | None] = lambda items: 1_000

    async def holds(self, owner_id: uuid.UUID, *, for_update: bool = False) -> list[Hold]:
        return [h for r, h in self.rows.items() if self.owner[r] == owner_id]

    async def hold(self, reservation_id: uuid.UUID) -> Hold | None:
        return self.rows.get(reservation_id)

    async def owner_of(self, reservation_id: uuid.UUID) -> uuid.UUID | None:
        return self.owner.get(reservation_id)

    async def add(
        self,
        owner_id: uuid.UUID,
        account_id: uuid.UUID,
        reservation_id: uuid.UUID,
        request: Sequence[wire.ReserveItem],
    ) -> None:
        self.owner[reservation_id] = owner_id
        credits = self.answer(request)
        self.rows[reservation_id] = Hold(
            reservation_id,
            HoldStatus.REQUESTED if credits is None else HoldStatus.RESERVED,
            remaining=credits or 0,
            prices=PRICES,
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            created_at=datetime.now(UTC),
            request=tuple(request),
        )

    async def update(self, reservation_id: uuid.UUID, **values: Any) -> None:
        values = {k: v for k, v in values.items() if k != "credits"}  # Hold has no size
        self.rows[reservation_id] = dataclasses.replace(self.rows[reservation_id], **values)


class FakeQueues:
    async def work_counts(self, site_id: uuid.UUID) -> dict[str, int]:
        return {}


class FakeUnitOfWork:
    def __init__(self, world: World) -> None:
        self.world = world
        self.runs, self.items, self.holds = world.runs, world.items, world.holds
        self.queues = world.queues

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def commit(self) -> None:
        self.world.commits += 1

    async def rollback(self) -> None:
        return None

    async def emit(
        self, topic: str, payload: Any, account_id: Any = None, site_id: Any = None
    ) -> None:
        self.world.sent.append((topic, payload))


class NullLog:
    def write(self, *args: Any, **fields: Any) -> None:
        return None


class World:
    def __init__(self) -> None:
        self.runs, self.items, self.holds = FakeRuns(), FakeItems(), FakeHolds()
        self.runs.items = self.items
        self.queues = FakeQueues()
        self.sent: list[tuple[str, Any]] = []
        self.commits = 0
        self.engine = RunEngine(
            unit_of_work=lambda: FakeUnitOfWork(self),  # type: ignore[arg-type,return-value]
            ai=None,  # type: ignore[arg-type]
            storage=None,  # type: ignore[arg-type]
            log=NullLog(),
            clock=SystemClock(),
            worker_id="w",
            image_url=str,
            reserve_wait_s=0.01,
            reserve_deadline_s=0.05,
            poll_s=0.001,
        )

    def run(self, config: AutomationConfig | None = None, **values: Any) -> RunContext:
        run_id = uuid.uuid4()
        row = Run(
            run_id=run_id,
            account_id=uuid.uuid4(),
            site_id=uuid.uuid4(),
            status=RunStatus.RUNNING,
            stages=(1, 4),
            config=(config or AutomationConfig()).model_dump(mode="json"),
            fencing_token=1,
            started_at=datetime.now(UTC),
            **values,
        )
        self.runs.rows[run_id] = row
        return RunContext.of(row, 1)

    def topics(self, topic: str) -> list[Any]:
        return [p for t, p in self.sent if t == topic]


def ai_result(words: int) -> tuple[Any, AIUsage, int]:
    usage = AIUsage("fake", 1, 2, Decimal("0"))
    return AIResult({"n": words}, usage, "v1", 1), usage, words


@pytest.fixture
def world() -> World:
    return World()
