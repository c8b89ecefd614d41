"""Stage 2: clusters → ideas, one AI call per cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from automation.app.items import run_item
from automation.app.run_context import RunContext
from automation.app.run_events import progress
from automation.app.stages.site import site_variables
from automation.domain.ai import AIFunction, AIUsage
from automation.domain.library import ClusterToPlan
from automation.domain.results import FoundIdea, ideas_of
from automation.domain.runs import ItemDetail
from automation.ports import UnitOfWork

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


async def run(eng: RunEngine, ctx: RunContext, limit: int) -> list[str]:
    site = await site_variables(eng, ctx)
    count = ctx.config.ideas_per_cluster
    async with eng.unit_of_work() as uow:
        found = await uow.queues.clusters_without_ideas(ctx.site_id, limit)
    outcomes = []
    for i, cluster in enumerate(found):

        async def work(
            cluster: ClusterToPlan = cluster,
        ) -> tuple[tuple[FoundIdea, ...], AIUsage | None, int]:
            async with eng.unit_of_work() as uow:
                members = await uow.queues.cluster_keywords(cluster.cluster_id)
            result = await eng.ai.complete(
                AIFunction.GENERATE_IDEAS,
                {**site, "count": count},
                {"cluster": {"name": cluster.name, "keywords": members}, "count": count},
                4000,
            )
            ideas = ideas_of(result.data, count)
            return ideas, result.usage, len(ideas)

        async def save(
            uow: UnitOfWork, ideas: tuple[FoundIdea, ...], cluster: ClusterToPlan = cluster
        ) -> ItemDetail:
            made = await uow.planner.save_ideas(
                ctx.account_id, ctx.site_id, ctx.run_id, cluster.cluster_id, ideas
            )
            return {"ideas": made}

        key = f"s2:{cluster.cluster_id}"
        next_key = f"s2:{found[i + 1].cluster_id}" if i + 1 < len(found) else None
        outcomes.append(await run_item(eng, ctx, 2, key, work, save, next_key=next_key))
        await progress(eng, ctx, 2, len(outcomes), len(found))
    return outcomes
