"""Starting the runs that schedules call for."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from automation.app.runs import start_run
from automation.domain.config import AutomationConfig
from automation.domain.errors import AutomationError
from automation.domain.schedule import latest_occurrence
from automation.ports import Clock, UnitOfWork


async def start_due_runs(unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> list[str]:
    """One pass; returns what happened per due site. A schedule seen for the first time is not
    backfilled; a site with a reserving, running or paused run is skipped, never doubled."""
    outcomes = []
    async with unit_of_work() as uow:
        sites = await uow.sites.scheduled_sites()
    now = clock.now()
    for site in sites:
        try:  # a config saved before the API refused unknown timezones is skipped, not fatal
            config = AutomationConfig.model_validate(site.config)
            occurrence = latest_occurrence(config.schedule, now)
        except (AutomationError, ValidationError):
            continue
        if occurrence is None:
            continue
        last = site.last_occurrence
        async with unit_of_work() as uow:
            if last is None:
                await uow.sites.mark_occurrence(site.site_id, occurrence, "armed")
                outcome = "armed"
            elif occurrence <= last:
                continue
            elif await uow.runs.live_run(site.site_id) is not None:
                await uow.sites.mark_occurrence(
                    site.site_id, occurrence, "skipped: site has a live run"
                )
                outcome = "skipped"
            else:
                try:
                    await start_run(uow, site.account_id, site.site_id, [1, 2, 3, 4, 5, 6])
                    outcome = "started"
                except AutomationError as error:  # e.g. a run started by hand a moment ago
                    outcome = f"skipped: {error.detail}"
                await uow.sites.mark_occurrence(site.site_id, occurrence, outcome)
            await uow.commit()
        outcomes.append(f"{site.site_id}:{outcome}")
    return outcomes
