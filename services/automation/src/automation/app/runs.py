"""Starting, pausing, resuming and cancelling runs (the worker does the driving). Every status
change is a compare-and-set on the state it was decided on, so a resume racing a cancel cannot
revive the run."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from automation.domain.config import AutomationConfig
from automation.domain.errors import InvalidInput, NotFound, RunConflict
from automation.domain.library import LibraryKind
from automation.domain.runs import LIVE, Run, RunRequest, RunStatus
from automation.ports import Clock, UnitOfWork
from igny8.contracts.runs import RunChanged
from igny8.credit_saga import release_confirmed

R = RunStatus


async def site_config(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID
) -> AutomationConfig:
    if await uow.sites.site(account_id, site_id) is None:
        raise NotFound("site not found")
    return await uow.sites.config(site_id) or AutomationConfig()


async def regenerate_content(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
) -> uuid.UUID:
    """One article written again, as a small run of its own: reserved, charged and released like
    any AI call, under the one-run-per-site rule; the old text stays until the new one exists."""
    content = await uow.library.get_item(LibraryKind.CONTENT, account_id, site_id, content_id)
    if content is None:
        raise NotFound("content not found")
    target = {"content_id": str(content_id), "task_id": str(content.task_id)}
    return await start_run(uow, account_id, site_id, [4], target)


async def start_run(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    stages: list[int],
    target: dict[str, str] | None = None,
) -> uuid.UUID:
    config = await site_config(uow, account_id, site_id)
    if not stages or any(s not in range(1, 7) for s in stages):
        raise InvalidInput("stages must be a non-empty subset of 1..6")
    run_id = uuid.uuid4()
    await uow.runs.create_run(
        Run(
            run_id=run_id,
            account_id=account_id,
            site_id=site_id,
            status=R.QUEUED,  # a worker admits it to a free slot (app/slots.py)
            stages=tuple(sorted(set(stages))),
            config=config.model_dump(mode="json"),
            target=target,
        )
    )
    await uow.run_queue.notify()
    return run_id


async def _announce(uow: UnitOfWork, run: Run, topic: str, status: str, reason: str | None) -> None:
    await uow.emit(
        topic,
        RunChanged(
            run_id=run.run_id,
            site_id=run.site_id,
            status=status,
            stages=list(run.stages),
            reason=reason,
            credits_charged=run.credits_charged,
        ),
        run.account_id,
        run.site_id,
    )


async def pause_run(
    uow: UnitOfWork, account_id: uuid.UUID, run_id: uuid.UUID, clock: Clock | None = None
) -> Run:
    run = await uow.runs.run(run_id, account_id)
    if run is None:
        raise NotFound("run not found")
    expected = (R.RESERVING, R.RUNNING)
    if run.status is R.QUEUED:  # waiting for a slot: nobody drives it
        if not await uow.runs.transition(
            run_id,
            (R.QUEUED,),
            R.PAUSED,
            requested=None,
            pause_reason="requested",
            queue_position=None,
        ):
            raise RunConflict("the run changed meanwhile; try again")
        await _announce(uow, run, "run.paused", R.PAUSED, "requested")
        return dataclasses.replace(run, status=R.PAUSED, queue_position=None)
    if run.status not in expected:
        raise RunConflict(f"a {run.status} run cannot be paused")
    # nobody drives it (no worker yet, or between drives): pause it here and now
    if (
        clock is not None
        and not run.driven_at(clock.now())
        and await uow.runs.transition(
            run_id, (run.status,), R.PAUSED, requested=None, pause_reason="requested"
        )
    ):
        await _announce(uow, run, "run.paused", R.PAUSED, "requested")
        return dataclasses.replace(run, status=R.PAUSED)
    # takes effect between items
    if not await uow.runs.request(run_id, expected, RunRequest.PAUSE):
        raise RunConflict("the run changed meanwhile; try again")
    return dataclasses.replace(run, requested=RunRequest.PAUSE)


async def resume_run(
    uow: UnitOfWork, account_id: uuid.UUID, run_id: uuid.UUID, clock: Clock
) -> Run:
    run = await uow.runs.run(run_id, account_id)
    if run is None:
        raise NotFound("run not found")
    if run.status is not R.PAUSED:
        raise RunConflict(f"a {run.status} run cannot be resumed")
    now = clock.now()
    live = [h for h in await uow.holds.holds(run_id) if h.live(now) and h.remaining > 0]
    status = R.RUNNING if live else R.RESERVING  # an expired hold means reserving again
    if not await uow.runs.transition(
        run_id,
        (R.PAUSED,),
        status,
        requested=None,
        pause_reason=None,
        queue_position=None,
        lease_owner=None,
        lease_expires_at=None,
    ):
        raise RunConflict("the run is no longer paused")
    await uow.run_queue.notify()
    if status is R.RUNNING:
        await _announce(uow, run, "run.resumed", R.RUNNING, None)
    return dataclasses.replace(run, status=status)


async def cancel_run(uow: UnitOfWork, run: Run, clock: Clock, reason: str) -> Run:
    """A driven run stops between items; one nobody drives ends here — through `finishing`
    when billing has not answered all its captures yet (a worker then ends it)."""
    status, run_id = run.status, run.run_id
    if status not in LIVE or status is R.FINISHING:
        raise RunConflict(f"a {status} run cannot be cancelled")
    if status in (R.RESERVING, R.RUNNING) and run.driven_at(clock.now()):
        if not await uow.runs.request(run_id, (R.RESERVING, R.RUNNING), RunRequest.CANCEL):
            raise RunConflict("the run changed meanwhile; try again")
        return dataclasses.replace(run, requested=RunRequest.CANCEL)
    if await uow.items.unsettled_captures(run_id):
        if not await uow.runs.transition(
            run_id,
            (status,),
            R.FINISHING,
            ending=R.CANCELLED,
            end_reason=reason,
            queue_position=None,  # a run that gave its slot back was shown a place in the queue
            requested=None,
            lease_owner=None,
            lease_expires_at=None,
        ):
            raise RunConflict("the run changed meanwhile; try again")
        return dataclasses.replace(run, status=R.FINISHING, requested=RunRequest.CANCEL)
    if not await uow.runs.transition(
        run_id,
        (status,),
        R.CANCELLED,
        end_reason=reason,
        queue_position=None,
        requested=None,
        ended_at=clock.now(),
        lease_owner=None,
        lease_expires_at=None,
    ):
        raise RunConflict("the run changed meanwhile; try again")

    async def emit(topic: str, payload: Any) -> None:
        await uow.emit(topic, payload, run.account_id, run.site_id)

    await release_confirmed(uow.holds, emit, run_id)  # unanswered reserves: see apply_reply
    await _announce(uow, run, "run.cancelled", R.CANCELLED, reason)
    return dataclasses.replace(run, status=R.CANCELLED)


async def act_on_run(
    uow: UnitOfWork, account_id: uuid.UUID, run_id: uuid.UUID, action: str, clock: Clock
) -> Run:
    """Pause, resume or cancel the account's run (as a person asks it over HTTP)."""
    run = await uow.runs.run(run_id, account_id)
    if run is None:
        raise NotFound("run not found")
    if action == "pause":
        return await pause_run(uow, account_id, run_id, clock)
    if action == "resume":
        return await resume_run(uow, account_id, run_id, clock)
    if action == "cancel":
        return await cancel_run(uow, run, clock, "cancelled on request")
    raise InvalidInput(f"unknown action {action!r}")
