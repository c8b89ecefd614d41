"""Stage 4: tasks → articles (or one article written again: a regeneration run)."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from automation.app.items import run_item
from automation.app.run_context import RunContext
from automation.app.run_events import progress
from automation.app.stages.site import site_variables
from automation.domain.ai import AIFunction, AIUsage
from automation.domain.library import TaskBrief
from automation.domain.results import Article, article_of
from automation.domain.runs import ItemDetail, content_token_limit
from automation.ports import UnitOfWork

if TYPE_CHECKING:
    from automation.app.run_engine import RunEngine


def word_count(html: str) -> int:
    """The words a reader gets (tags are not words): what the article is charged for."""
    return len(re.sub(r"<[^>]+>", " ", html).split())


async def run(eng: RunEngine, ctx: RunContext, limit: int) -> list[str]:
    site = await site_variables(eng, ctx)
    target = ctx.target
    words_wanted = ctx.config.target_word_count
    async with eng.unit_of_work() as uow:
        if target:
            found = await uow.queues.task_for_regeneration(
                ctx.site_id, uuid.UUID(target["task_id"])
            )
        else:
            found = await uow.queues.pending_tasks(ctx.site_id, limit)
    outcomes = []
    for i, task in enumerate(found):

        async def work(task: TaskBrief = task) -> tuple[Article, AIUsage | None, int]:
            idea = {
                "title": task.title,
                "brief": task.brief,
                "outline": list(task.outline),
                "target_keywords": list(task.target_keywords),
                "structure": task.structure,
            }
            result = await eng.ai.complete(
                AIFunction.GENERATE_CONTENT,
                {**site, "target_words": words_wanted},
                {"idea": idea, "target_words": words_wanted},
                content_token_limit(ctx.config),
            )
            article = article_of(result.data)
            return article, result.usage, word_count(article.html)

        async def save(uow: UnitOfWork, article: Article, task: TaskBrief = task) -> ItemDetail:
            words = word_count(article.html)
            if target:  # the new text replaces the article only now, when it exists
                await uow.planner.replace_content(
                    uuid.UUID(target["content_id"]), ctx.run_id, article, words
                )
                return {"content_id": target["content_id"], "words": words, "regenerated": True}
            content_id = await uow.planner.save_content(
                ctx.account_id, ctx.site_id, ctx.run_id, task.task_id, article, words
            )
            return {"content_id": str(content_id), "words": words}

        key = f"s4r:{ctx.run_id}" if target else f"s4:{task.task_id}"
        upcoming = found[i + 1] if i + 1 < len(found) and not target else None
        next_key = f"s4:{upcoming.task_id}" if upcoming else None
        outcomes.append(await run_item(eng, ctx, 4, key, work, save, next_key=next_key))
        await progress(eng, ctx, 4, len(outcomes), len(found))
    return outcomes
