"""Each stage's work in sight, per site, oldest first, as the domain's frozen rows."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import sqlalchemy as sa

from automation.adapters.sqlalchemy_rows import SessionRepository
from automation.adapters.sqlalchemy_tables import (
    clusters,
    contents,
    ideas,
    image_prompts,
    images,
    keywords,
    tasks,
)
from automation.domain.library import (
    WRITABLE,
    ClusterStatus,
    ClusterToPlan,
    ContentToIllustrate,
    IdeaStatus,
    ImagePrompt,
    KeywordStatus,
    NewKeyword,
    TaskBrief,
)

_TASKS_WITH_IDEAS = sa.select(
    tasks.c.task_id,
    tasks.c.idea_id,
    ideas.c.title,
    ideas.c.brief,
    ideas.c.outline,
    ideas.c.target_keywords,
    ideas.c.structure,
).join(ideas, ideas.c.idea_id == tasks.c.idea_id)
_PROMPT = [image_prompts.c[f.name] for f in dataclasses.fields(ImagePrompt)]


def _brief(row: Any) -> TaskBrief:
    m = row._mapping
    return TaskBrief(
        task_id=m["task_id"],
        idea_id=m["idea_id"],
        title=m["title"],
        brief=m["brief"],
        outline=tuple(m["outline"]),
        target_keywords=tuple(m["target_keywords"]),
        structure=m["structure"],
    )


class SqlAlchemyWorkQueues(SessionRepository):
    async def new_keywords(self, site_id: uuid.UUID, limit: int) -> list[NewKeyword]:
        rows = await self.session.execute(
            sa.select(keywords.c.keyword_id, keywords.c.keyword)
            .where(keywords.c.site_id == site_id, keywords.c.status == KeywordStatus.NEW)
            .order_by(keywords.c.created_at, keywords.c.keyword)
            .limit(limit)
        )
        return [NewKeyword(keyword_id, keyword) for keyword_id, keyword in rows]

    async def clusters_without_ideas(self, site_id: uuid.UUID, limit: int) -> list[ClusterToPlan]:
        rows = await self.session.execute(
            sa.select(clusters.c.cluster_id, clusters.c.name)
            .where(clusters.c.site_id == site_id, clusters.c.status == ClusterStatus.NEW)
            .order_by(clusters.c.created_at, clusters.c.cluster_id)
            .limit(limit)
        )
        return [ClusterToPlan(cluster_id, name) for cluster_id, name in rows]

    async def cluster_keywords(self, cluster_id: uuid.UUID) -> list[str]:
        rows = await self.session.execute(
            sa.select(keywords.c.keyword)
            .where(keywords.c.cluster_id == cluster_id)
            .order_by(keywords.c.keyword)
        )
        return list(rows.scalars())

    async def ideas_without_tasks(self, site_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(ideas.c.idea_id)
            .where(ideas.c.site_id == site_id, ideas.c.status == IdeaStatus.NEW)
            .order_by(ideas.c.created_at, ideas.c.idea_id)
            .limit(limit)
        )
        return list(rows.scalars())

    async def pending_tasks(self, site_id: uuid.UUID, limit: int) -> list[TaskBrief]:
        rows = await self.session.execute(
            _TASKS_WITH_IDEAS.where(tasks.c.site_id == site_id, tasks.c.status.in_(WRITABLE))
            .order_by(tasks.c.created_at, tasks.c.task_id)
            .limit(limit)
        )
        return [_brief(r) for r in rows]

    async def task_for_regeneration(
        self, site_id: uuid.UUID, task_id: uuid.UUID
    ) -> list[TaskBrief]:
        rows = await self.session.execute(
            _TASKS_WITH_IDEAS.where(tasks.c.site_id == site_id, tasks.c.task_id == task_id)
        )
        return [_brief(r) for r in rows]

    async def contents_without_prompts(
        self, site_id: uuid.UUID, limit: int
    ) -> list[ContentToIllustrate]:
        has_prompts = (
            sa.select(image_prompts.c.prompt_id)
            .where(image_prompts.c.content_id == contents.c.content_id)
            .exists()
        )
        rows = await self.session.execute(
            sa.select(contents.c.content_id, contents.c.title, contents.c.keywords)
            .where(contents.c.site_id == site_id, ~has_prompts)
            .order_by(contents.c.created_at, contents.c.content_id)
            .limit(limit)
        )
        return [ContentToIllustrate(cid, title, tuple(kws)) for cid, title, kws in rows]

    async def prompts_without_images(self, site_id: uuid.UUID, limit: int) -> list[ImagePrompt]:
        has_image = (
            sa.select(images.c.image_id)
            .where(images.c.prompt_id == image_prompts.c.prompt_id)
            .exists()
        )
        rows = await self.session.execute(
            sa.select(*_PROMPT)
            .where(image_prompts.c.site_id == site_id, ~has_image)
            .order_by(image_prompts.c.created_at, image_prompts.c.prompt_id)
            .limit(limit)
        )
        return [ImagePrompt(**r._mapping) for r in rows]

    async def work_counts(self, site_id: uuid.UUID) -> dict[str, int]:
        def count(table: sa.Table, *where: Any) -> Any:
            return (
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.site_id == site_id, *where)
                .scalar_subquery()
            )

        has_prompts = (
            sa.select(image_prompts.c.prompt_id)
            .where(image_prompts.c.content_id == contents.c.content_id)
            .exists()
        )
        has_image = (
            sa.select(images.c.image_id)
            .where(images.c.prompt_id == image_prompts.c.prompt_id)
            .exists()
        )
        row = (
            await self.session.execute(
                sa.select(
                    count(keywords, keywords.c.status == KeywordStatus.NEW).label("keywords"),
                    count(clusters, clusters.c.status == ClusterStatus.NEW).label("clusters"),
                    count(ideas, ideas.c.status == IdeaStatus.NEW).label("ideas"),
                    count(tasks, tasks.c.status.in_(WRITABLE)).label("tasks"),
                    count(contents, ~has_prompts).label("contents"),
                    count(image_prompts, ~has_image).label("prompts"),
                )
            )
        ).one()
        return dict(row._mapping)

    async def prompt(self, prompt_id: uuid.UUID) -> ImagePrompt | None:
        found = await self.session.execute(
            sa.select(*_PROMPT).where(image_prompts.c.prompt_id == prompt_id)
        )
        row = found.first()
        return ImagePrompt(**row._mapping) if row is not None else None
