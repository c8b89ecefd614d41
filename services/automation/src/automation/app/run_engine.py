"""Driving one automation run (DESIGN §4-§5): the lease and the drive loop.

The worker holding a run's lease drives it: reserve credits, then stage by stage (one module per
stage under `stages/`), item by item (`items.py`), paying through the run's holds
(`credit_holds.py`), and ends it through `finishing` (`run_lifecycle.py`). Writes are fenced by
the lease token and by the run's state: a worker whose lease was taken over, or a late finisher
after a pause or an end, cannot write.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from automation.app.ai_budget import CallGate
from automation.app.credit_holds import reserve
from automation.app.items import Ahead, release_ahead
from automation.app.run_context import RunContext, Stop
from automation.app.run_events import stage_event
from automation.app.run_lifecycle import driving, finish, settle_and_end, take_requests
from automation.app.stages import STAGE_RUNNERS
from automation.app.stages.images import image_item
from automation.domain.ai import AINotConfigured
from automation.domain.runs import (
    SETTLED,
    STAGES,
    ItemStatus,
    LeaseLost,
    Run,
    RunStatus,
    StageResult,
)
from automation.domain.scheduling import Caps
from automation.ports import AIBudget, AIEngine, Clock, ImageStorage, RunLog, RunSignals, UnitOfWork

R = RunStatus


@dataclass
class RunEngine:
    unit_of_work: Callable[[], UnitOfWork]
    ai: AIEngine
    storage: ImageStorage
    log: RunLog
    clock: Clock
    worker_id: str
    image_url: Callable[[uuid.UUID], str]
    lease_ttl_s: float = 15.0
    reserve_wait_s: float = 60.0
    """How long to wait for billing's answer before sending the same reserve again."""
    reserve_deadline_s: float = 600.0
    """After this long without an answer the run fails (and the site is free again)."""
    image_deadline_s: float = 900.0
    """Stage 6 gives an image up (failed) when it was not made within this long."""
    poll_s: float = 0.1
    max_provider_failures: int = 3
    image_concurrency: int = 4
    image_window: int = 16
    """Images of one run on the work topic at once (`stages/images.py`)."""
    hold_ttl_s: int = 86_400
    signals: RunSignals | None = None
    """Wake-ups per run from other processes (NOTIFY); None: adaptive polling only."""
    ai_budget: AIBudget | None = None
    """AI calls in flight shared by every worker process (`app/ai_budget.py`); None: unbounded."""
    run_caps: Caps = field(default_factory=Caps)
    """Runs in progress per account (the fair scheduler's caps): a run asked to give its slot
    back decides again with them whether a waiting run could take it (`run_lifecycle`)."""
    failures: dict[uuid.UUID, int] = field(default_factory=dict)
    drives: dict[uuid.UUID, int] = field(default_factory=dict)
    """Drives per run going on in this process (a yielded run's next can start before its last
    has unwound)."""
    last_progress: dict[tuple[uuid.UUID, int], float] = field(default_factory=dict)
    ahead: dict[uuid.UUID, Ahead] = field(default_factory=dict)
    """Per run: the next item's look, taken in the last item's commit (`items.Ahead`)."""
    contexts: dict[tuple[uuid.UUID, int], RunContext] = field(default_factory=dict)
    """Per run and fencing token: a run's config cannot change while a token holds it."""
    image_gate: CallGate = field(init=False)

    def __post_init__(self) -> None:
        self.image_gate = CallGate(self.image_concurrency)  # AI image calls at once

    def count_failure(self, run_id: uuid.UUID) -> bool:
        """One more failed item in a row; True when the run should pause."""
        self.failures[run_id] = self.failures.get(run_id, 0) + 1
        if self.failures[run_id] >= self.max_provider_failures:
            self.failures[run_id] = 0
            return True
        return False

    def count_success(self, run_id: uuid.UUID) -> None:
        self.failures[run_id] = 0

    def context(self, run: Run, token: int) -> RunContext:
        """The run's frozen context, its config validated once per lease (not once per item)."""
        key = (run.run_id, token)
        found = self.contexts.get(key)
        if found is None:
            if len(self.contexts) > 1_000:  # a long-lived worker sees many runs
                self.contexts.clear()
            found = self.contexts[key] = RunContext.of(run, token)
        return found

    # -- the lease ----------------------------------------------------------------------------

    async def drive(self, run_id: uuid.UUID, token: int | None = None) -> str:
        """Drive the run; `token` when the fair scheduler admitted it with this worker's lease
        already (`app/slots.py`), otherwise the lease is taken over here."""
        if token is None:
            async with self.unit_of_work() as uow:
                token = await uow.runs.acquire_lease(
                    run_id, self.worker_id, self.clock.now(), self.lease_ttl_s
                )
                await uow.commit()
        if token is None:
            return "not_acquired"
        # A run that gave its slot back can be admitted again here while this drive still
        # unwinds: the wake-ups are the run's own until its last drive here has ended.
        self.drives[run_id] = self.drives.get(run_id, 0) + 1
        renewer = asyncio.create_task(self._renew(run_id, token))
        mine = driving.set(run_id)
        try:
            return await self._drive(run_id, token)
        except LeaseLost as lost:
            self.log.write(run_id, None, "lease_lost", f"stopping: {lost}")
            return "lease_lost"
        except Stop as stop:
            return stop.outcome
        finally:
            driving.reset(mine)
            self.drives[run_id] -= 1
            if not self.drives[run_id]:
                del self.drives[run_id]
                if self.signals is not None:
                    self.signals.forget(run_id)
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
            with contextlib.suppress(Exception):
                async with self.unit_of_work() as uow:
                    await uow.runs.release_lease(run_id, token)
                    await uow.commit()
            # this run's lines stored as it leaves our hands — not every run's: the slot is
            # refilled when this returns, and other runs' lines keep their drain's pace
            with contextlib.suppress(Exception):
                await asyncio.shield(self.log.flush(run_id))

    async def _renew(self, run_id: uuid.UUID, token: int) -> None:
        while True:
            await asyncio.sleep(self.lease_ttl_s / 3)
            async with self.unit_of_work() as uow:
                if not await uow.runs.renew_lease(
                    run_id, token, self.clock.now(), self.lease_ttl_s
                ):
                    return
                await uow.commit()

    # -- the run ------------------------------------------------------------------------------

    async def _drive(self, run_id: uuid.UUID, token: int) -> str:
        async with self.unit_of_work() as uow:
            run = await uow.runs.guard(run_id, token)
        ctx = self.context(run, token)
        if run.status is R.FINISHING:  # taken over while waiting for billing's answers
            return await settle_and_end(self, ctx)
        if run.status is R.RESERVING:
            try:
                self.ai.ensure_configured()
            except AINotConfigured as error:
                await finish(self, ctx, R.FAILED, error.detail)
                return R.FAILED
            if not await reserve(self, ctx, initial=True):
                return R.REJECTED
        async with self.unit_of_work() as uow:
            results = await uow.runs.stage_results(run_id)
        done_stages = {s for s, r in results.items() if r.status == "completed"}
        for position, stage in enumerate(ctx.stages):
            if stage in done_stages:
                continue
            if position and ctx.config.delay_between_stages_s:
                await asyncio.sleep(ctx.config.delay_between_stages_s)
            await self._run_stage(ctx, stage)
        await finish(self, ctx, R.COMPLETED)
        return R.COMPLETED

    async def _run_stage(self, ctx: RunContext, stage: int) -> None:
        async with self.unit_of_work() as uow:
            current = await uow.runs.guard(ctx.run_id, ctx.token, (R.RUNNING,))
            # a stage taken up again (resume, takeover, a slot given back) counts what it did
            # before: done items match no "pending" query, so the cap would start afresh
            before = (await uow.items.item_tally(ctx.run_id)).get(stage, {})
            if current.requested is None:
                await stage_event(uow, ctx, "started", stage, {})
                await uow.commit()
        if current.requested is not None:  # a stage boundary is a safe point for all of them
            await take_requests(self, ctx, current, (R.RUNNING,), may_yield=True)
            async with self.unit_of_work() as uow:
                await uow.runs.guard(ctx.run_id, ctx.token, (R.RUNNING,))
                await stage_event(uow, ctx, "started", stage, {})
                await uow.commit()
        self.log.write(ctx.run_id, stage, "stage.started", STAGES[stage])
        limit = max(0, ctx.config.max_items_per_stage.get(stage, 100_000) - before.get("done", 0))
        try:
            outcomes = await STAGE_RUNNERS[stage](self, ctx, limit)
        finally:  # a look taken ahead for an item that never started gives its slot back
            await release_ahead(self, self.ahead.pop(ctx.run_id, None))
        tally = {k: outcomes.count(k) for k in SETTLED}
        async with self.unit_of_work() as uow:
            await uow.runs.guard(ctx.run_id, ctx.token, (R.RUNNING,))
            # the stage's checkpoints count what earlier drives did too (a pause, a takeover);
            # a skip is checkpointed only by some stages, so this drive's are added to those
            stored = (await uow.items.item_tally(ctx.run_id)).get(stage, {})
            done, failed = stored.get(ItemStatus.DONE, 0), stored.get(ItemStatus.FAILED, 0)
            skipped = stored.get(ItemStatus.SKIPPED, 0) + max(
                0,
                tally[ItemStatus.SKIPPED]
                - (stored.get(ItemStatus.SKIPPED, 0) - before.get(ItemStatus.SKIPPED, 0)),
            )
            result = StageResult(
                done=done,
                failed=failed,
                skipped=skipped,
                total=done + failed + skipped,
                credits=stored.get("credits", 0),
                partial=tally[ItemStatus.FAILED] > 0,
                skip_reasons=("already done before a resume or takeover, or deleted meanwhile",)
                if tally[ItemStatus.SKIPPED]
                else (),
            )
            await uow.runs.save_stage_result(ctx.run_id, stage, result)
            await stage_event(uow, ctx, "completed", stage, dataclasses.asdict(result))
            await uow.commit()
        self.log.write(
            ctx.run_id, stage, "stage.completed", STAGES[stage], **dataclasses.asdict(result)
        )

    async def image_item(self, run_id: uuid.UUID, token: int, prompt_id: uuid.UUID) -> str:
        return await image_item(self, run_id, token, prompt_id)
