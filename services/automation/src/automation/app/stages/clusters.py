"""Stage 1: new keywords → clusters, a batch per AI call."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from automation.app.credit_holds import NAMESPACE
from automation.app.items import run_item
from automation.app.run_context import RunContext
from automation.app.run_events import progress
from automation.app.stages.site import site_variables
from automation.domain.ai import AIFunction, AIUsage
from automation.domain.library import NewKeyword
from automation.domain.results import FoundCluster, clusters_of
from automation.domain.runs import ItemDetail, ItemStatus
from automation.ports import UnitOfWork

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


async def run(eng: RunEngine, ctx: RunContext, limit: int) -> list[str]:
    outcomes: list[str] = []
    site = await site_variables(eng, ctx)
    processed = 0
    while processed < limit:
        async with eng.unit_of_work() as uow:
            batch = await uow.queues.new_keywords(
                ctx.site_id, min(ctx.config.batch(1), limit - processed)
            )
        if not batch:
            break
        processed += len(batch)
        ids = ",".join(sorted(str(k.keyword_id) for k in batch))
        key = f"s1:{uuid.uuid5(NAMESPACE, ids)}"
        by_keyword = {k.keyword: k.keyword_id for k in batch}

        async def work(
            batch: list[NewKeyword] = batch,
        ) -> tuple[tuple[FoundCluster, ...], AIUsage | None, int]:
            result = await eng.ai.complete(
                AIFunction.CLUSTER_KEYWORDS, site, {"keywords": [k.keyword for k in batch]}, 4000
            )
            return clusters_of(result.data), result.usage, 1

        async def save(
            uow: UnitOfWork,
            found: tuple[FoundCluster, ...],
            by_keyword: dict[str, uuid.UUID] = by_keyword,
        ) -> ItemDetail:
            made = await uow.planner.save_clusters(
                ctx.account_id, ctx.site_id, ctx.run_id, found, by_keyword
            )
            return {"clusters": made, "keywords": len(by_keyword)}

        outcomes.append(await run_item(eng, ctx, 1, key, work, save))
        await progress(eng, ctx, 1, len(outcomes), len(outcomes))
        if outcomes[-1] == ItemStatus.FAILED:
            break  # the same keywords would come back; leave them for the next run
    return outcomes
