"""Stage 5: articles → image prompts (a featured one and `inline_images` inline ones)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from automation.app.items import run_item
from automation.app.run_context import RunContext
from automation.app.run_events import progress
from automation.domain.ai import AIFunction, AIUsage
from automation.domain.library import ContentToIllustrate
from automation.domain.results import FoundPrompts, prompts_of
from automation.domain.runs import ItemDetail
from automation.ports import UnitOfWork

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


async def run(eng: RunEngine, ctx: RunContext, limit: int) -> list[str]:
    inline = ctx.config.inline_images
    async with eng.unit_of_work() as uow:
        found = await uow.queues.contents_without_prompts(ctx.site_id, limit)
    outcomes = []
    for i, content in enumerate(found):

        async def work(
            content: ContentToIllustrate = content,
        ) -> tuple[FoundPrompts, AIUsage | None, int]:
            result = await eng.ai.complete(
                AIFunction.GENERATE_IMAGE_PROMPTS,
                {"inline_count": inline},
                {
                    "title": content.title,
                    "keywords": list(content.keywords),
                    "inline_count": inline,
                },
                2000,
            )
            return prompts_of(result.data), result.usage, 1

        async def save(
            uow: UnitOfWork, prompts: FoundPrompts, content: ContentToIllustrate = content
        ) -> ItemDetail:
            made = await uow.planner.save_prompts(
                ctx.account_id, ctx.site_id, content.content_id, prompts, inline
            )
            return {"prompts": made}

        key = f"s5:{content.content_id}"
        next_key = f"s5:{found[i + 1].content_id}" if i + 1 < len(found) else None
        outcomes.append(await run_item(eng, ctx, 5, key, work, save, next_key=next_key))
        await progress(eng, ctx, 5, len(outcomes), len(found))
    return outcomes
