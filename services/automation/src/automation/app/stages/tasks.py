"""Stage 3: ideas → tasks, one uncharged step."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from automation.app.run_context import RunContext
from automation.app.run_lifecycle import between_items
from automation.domain.runs import ItemStatus, RunStatus

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


async def run(eng: RunEngine, ctx: RunContext, limit: int) -> list[str]:
    await between_items(eng, ctx)
    async with eng.unit_of_work() as uow:
        await uow.runs.guard(ctx.run_id, ctx.token, (RunStatus.RUNNING,))
        found = await uow.queues.ideas_without_tasks(ctx.site_id, limit)
        made = await uow.planner.create_tasks(ctx.account_id, ctx.site_id, ctx.run_id, found)
        await uow.items.checkpoint(
            ctx.run_id, f"s3:{uuid.uuid4()}", 3, ItemStatus.DONE, detail={"tasks": made}
        )
        await uow.commit()
    return [ItemStatus.DONE] * made
