"""A site's automation settings and library actions that people take over HTTP: the config,
keyword imports, estimating a run, and starting one — waiting a moment for
billing's answer so the caller learns at once whether the run is running, waiting or refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from automation.app.runs import site_config, start_run
from automation.domain import keywords as keyword_import
from automation.domain.ai import AINotConfigured
from automation.domain.config import AutomationConfig
from automation.domain.errors import NotFound, ProviderMissing
from automation.domain.quotes import RunEstimate
from automation.domain.runs import Run, RunStatus, estimate
from automation.ports import CreditQuotes, UnitOfWork


async def known_site(uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID) -> None:
    if await uow.sites.site(account_id, site_id) is None:
        raise NotFound("site not found")


async def save_config(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, config: AutomationConfig
) -> AutomationConfig:
    await known_site(uow, account_id, site_id)
    await uow.sites.save_config(account_id, site_id, config)
    return config


async def patch_config(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, changes: dict[str, Any]
) -> AutomationConfig:
    """Merge `changes` into the saved config (`schedule` field by field) and validate the result
    as a whole."""
    current = (await site_config(uow, account_id, site_id)).model_dump(mode="json")
    if isinstance(changes.get("schedule"), dict):
        changes = {**changes, "schedule": {**current["schedule"], **changes["schedule"]}}
    merged = AutomationConfig.model_validate({**current, **changes})
    return await save_config(uow, account_id, site_id, merged)


async def import_keywords(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, body: bytes, content_type: str
) -> dict[str, Any]:
    """Every valid row in the caller's one transaction (all or none); bad rows per line."""
    parsed = keyword_import.parse(body, content_type)
    await known_site(uow, account_id, site_id)
    imported = await uow.planner.add_keywords(account_id, site_id, parsed.rows)
    return {
        "imported": imported,
        "duplicates": parsed.duplicates + len(parsed.rows) - imported,
        "errors": parsed.errors,
    }


async def estimate_run(
    uow: UnitOfWork,
    quotes: CreditQuotes,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    stages: list[int],
) -> RunEstimate:
    config = await site_config(uow, account_id, site_id)
    quantities = estimate(await uow.queues.work_counts(site_id), config, stages)
    return RunEstimate(tuple(stages), quantities, await quotes.quote(account_id, quantities))


def require_ai(ensure_ai: Callable[[], None]) -> None:
    try:
        ensure_ai()
    except AINotConfigured as error:
        raise ProviderMissing(error.detail) from None


async def start_and_wait(
    unit_of_work: Callable[[], UnitOfWork],
    ensure_ai: Callable[[], None],
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    stages: list[int],
    wait_s: float,
) -> Run:
    """Start a run and wait up to `wait_s` for it to leave `queued`/`reserving`: the run as it
    stands."""
    require_ai(ensure_ai)
    async with unit_of_work() as uow:
        run_id = await start_run(uow, account_id, site_id, stages)
        run = await uow.runs.run(run_id)
        await uow.commit()
    assert run is not None
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:  # at least one read, even with no wait: the run as it stands
        async with unit_of_work() as uow:
            run = await uow.runs.run(run_id) or run
        # a refused reservation passes through `finishing` on its way to `rejected`
        deciding = run.status is RunStatus.FINISHING and run.ending is RunStatus.REJECTED
        if run.status not in (RunStatus.QUEUED, RunStatus.RESERVING) and not deciding:
            break
        if asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.1)
    return run
