"""Each stage's work in sight, per site, oldest first."""

from __future__ import annotations

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

_TASKS_WITH_IDEAS = sa.select(
    tasks.c.task_id,
    tasks.c.idea_id,
    ideas.c.title,
    ideas.c.brief,
    ideas.c.outline,
    ideas.c.target_keywords,
    ideas.c.structure,
).join(ideas, ideas.c.idea_id == tasks.c.idea_id)


class SqlAlchemyWorkQueues(SessionRepository):
    async def new_keywords(self, site_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(keywords.c.keyword_id, keywords.c.keyword)
            .where(keywords.c.site_id == site_id, keywords.c.status == "new")
            .order_by(keywords.c.created_at, keywords.c.keyword)
            .limit(limit)
        )

    async def clusters_without_ideas(self, site_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(clusters)
            .where(clusters.c.site_id == site_id, clusters.c.status == "new")
            .order_by(clusters.c.created_at, clusters.c.cluster_id)
            .limit(limit)
        )

    async def cluster_keywords(self, cluster_id: uuid.UUID) -> list[str]:
        rows = await self.session.execute(
            sa.select(keywords.c.keyword)
            .where(keywords.c.cluster_id == cluster_id)
            .order_by(keywords.c.keyword)
        )
        return list(rows.scalars())

    async def ideas_without_tasks(self, site_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(ideas)
            .where(ideas.c.site_id == site_id, ideas.c.status == "new")
            .order_by(ideas.c.created_at, ideas.c.idea_id)
            .limit(limit)
        )

    async def pending_tasks(self, site_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        return await self._all(
            _TASKS_WITH_IDEAS.where(
                tasks.c.site_id == site_id, tasks.c.status.in_(["pending", "generating"])
            )
            .order_by(tasks.c.created_at, tasks.c.task_id)
            .limit(limit)
        )

    async def task_for_regeneration(
        self, site_id: uuid.UUID, task_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        return await self._all(
            _TASKS_WITH_IDEAS.where(tasks.c.site_id == site_id, tasks.c.task_id == task_id)
        )

    async def contents_without_prompts(
        self, site_id: uuid.UUID, limit: int
    ) -> list[dict[str, Any]]:
        has_prompts = (
            sa.select(image_prompts.c.prompt_id)
            .where(image_prompts.c.content_id == contents.c.content_id)
            .exists()
        )
        return await self._all(
            sa.select(contents.c.content_id, contents.c.title, contents.c.keywords)
            .where(contents.c.site_id == site_id, ~has_prompts)
            .order_by(contents.c.created_at, contents.c.content_id)
            .limit(limit)
        )

    async def prompts_without_images(self, site_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        has_image = (
            sa.select(images.c.image_id)
            .where(images.c.prompt_id == image_prompts.c.prompt_id)
            .exists()
        )
        return await self._all(
            sa.select(image_prompts)
            .where(image_prompts.c.site_id == site_id, ~has_image)
            .order_by(image_prompts.c.created_at, image_prompts.c.prompt_id)
            .limit(limit)
        )

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
                    count(keywords, keywords.c.status == "new").label("keywords"),
                    count(clusters, clusters.c.status == "new").label("clusters"),
                    count(ideas, ideas.c.status == "new").label("ideas"),
                    count(tasks, tasks.c.status.in_(["pending", "generating"])).label("tasks"),
                    count(contents, ~has_prompts).label("contents"),
                    count(image_prompts, ~has_image).label("prompts"),
                )
            )
        ).one()
        return dict(row._mapping)

    async def prompt(self, prompt_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(image_prompts).where(image_prompts.c.prompt_id == prompt_id)
        )
