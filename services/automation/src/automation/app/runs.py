"""Starting, pausing, resuming and cancelling runs (the worker does the driving)."""

from __future__ import annotations

import uuid
from typing import Any

from automation.domain.config import AutomationConfig
from automation.domain.errors import InvalidInput, NotFound, RunConflict
from automation.domain.runs import LIVE
from automation.ports import Clock, UnitOfWork
from igny8.contracts import credits as wire
from igny8.contracts.runs import RunChanged


async def site_config(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID
) -> AutomationConfig:
    if await uow.store.site(account_id, site_id) is None:
        raise NotFound("site not found")
    stored = await uow.store.config(site_id)
    return AutomationConfig.model_validate(stored) if stored else AutomationConfig()


async def regenerate_content(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
) -> uuid.UUID:
    """One article written again, as a small run of its own: reserved, charged and released like
    any AI call, under the one-run-per-site rule; the old text stays until the new one exists."""
    content = await uow.store.get_item("content", account_id, site_id, content_id)
    if content is None:
        raise NotFound("content not found")
    run_id = await start_run(uow, account_id, site_id, [4])
    await uow.store.update_run(
        run_id, target={"content_id": str(content_id), "task_id": str(content["task_id"])}
    )
    return run_id


async def start_run(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, stages: list[int]
) -> uuid.UUID:
    config = await site_config(uow, account_id, site_id)
    if not stages or any(s not in range(1, 7) for s in stages):
        raise InvalidInput("stages must be a non-empty subset of 1..6")
    run_id = uuid.uuid4()
    await uow.store.create_run(
        {
            "run_id": run_id,
            "account_id": account_id,
            "site_id": site_id,
            "status": "reserving",
            "stages": sorted(set(stages)),
            "config": config.model_dump(mode="json"),
        }
    )
    return run_id


async def _announce(
    uow: UnitOfWork, run: dict[str, Any], topic: str, status: str, reason: str | None
) -> None:
    await uow.emit(
        topic,
        RunChanged(
            run_id=run["run_id"],
            site_id=run["site_id"],
            status=status,
            stages=run["stages"],
            reason=reason,
            credits_charged=run["credits_charged"],
        ),
        run["account_id"],
        run["site_id"],
    )


async def pause_run(uow: UnitOfWork, account_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
    run = await uow.store.run(run_id, account_id)
    if run is None:
        raise NotFound("run not found")
    if run["status"] not in ("reserving", "running"):
        raise RunConflict(f"a {run['status']} run cannot be paused")
    await uow.store.update_run(run_id, requested="pause")  # takes effect between items
    return dict(run)


async def resume_run(
    uow: UnitOfWork, account_id: uuid.UUID, run_id: uuid.UUID, clock: Clock
) -> dict[str, Any]:
    run = await uow.store.run(run_id, account_id)
    if run is None:
        raise NotFound("run not found")
    if run["status"] != "paused":
        raise RunConflict(f"a {run['status']} run cannot be resumed")
    holds = await uow.store.holds(run_id)
    live = [
        h
        for h in holds
        if h["status"] == "reserved"
        and h["remaining"] > 0
        and (h["expires_at"] is None or h["expires_at"] > clock.now())
    ]
    status = "running" if live else "reserving"  # an expired hold means reserving again
    await uow.store.update_run(
        run_id,
        status=status,
        requested=None,
        pause_reason=None,
        lease_owner=None,
        lease_expires_at=None,
    )
    if status == "running":
        await _announce(uow, {**run, "status": status}, "run.resumed", "running", None)
    return {**run, "status": status}


async def cancel_run(
    uow: UnitOfWork, run: dict[str, Any], clock: Clock, reason: str
) -> dict[str, Any]:
    """A driven run stops between items; a paused one ends here and now. Holds are released."""
    if run["status"] not in LIVE:
        raise RunConflict(f"a {run['status']} run cannot be cancelled")
    if (
        run["status"] in ("reserving", "running")
        and run["lease_expires_at"] is not None
        and run["lease_expires_at"] > clock.now()
    ):
        await uow.store.update_run(run["run_id"], requested="cancel")
        return {**run, "requested": "cancel"}
    if await uow.store.unsettled_captures(run["run_id"]):
        # captures still in flight: a worker ends the run once billing has answered them
        await uow.store.update_run(
            run["run_id"],
            status="running",
            requested="cancel",
            lease_owner=None,
            lease_expires_at=None,
        )
        return {**run, "requested": "cancel"}
    for hold in await uow.store.holds(run["run_id"]):
        if hold["status"] in ("requested", "reserved"):
            await uow.emit(
                "credit.release",
                wire.ReleaseCredits(reservation_id=hold["reservation_id"]),
                run["account_id"],
                run["site_id"],
            )
            await uow.store.update_hold(hold["reservation_id"], status="releasing")
    await uow.store.update_run(
        run["run_id"],
        status="cancelled",
        requested=None,
        ended_at=clock.now(),
        lease_owner=None,
        lease_expires_at=None,
    )
    await _announce(uow, run, "run.cancelled", "cancelled", reason)
    return {**run, "status": "cancelled"}
