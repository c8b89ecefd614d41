"""The library people browse and edit over HTTP, tenant-scoped by account and site."""

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
    run_holds,
    tasks,
)

LISTABLE = {
    "keywords": keywords,
    "clusters": clusters,
    "ideas": ideas,
    "tasks": tasks,
    "content": contents,
    "images": images,
}


class SqlAlchemyLibrary(SessionRepository):
    async def listing(
        self,
        kind: str,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        limit: int,
        offset: int,
        status: str | None,
    ) -> list[dict[str, Any]]:
        table = LISTABLE[kind]
        query = sa.select(table).where(table.c.account_id == account_id, table.c.site_id == site_id)
        if status and "status" in table.c:
            query = query.where(table.c.status == status)
        return await self._all(
            query.order_by(table.c.created_at, next(iter(table.primary_key.columns)))
            .limit(limit)
            .offset(offset)
        )

    async def get_item(
        self, kind: str, account_id: uuid.UUID, site_id: uuid.UUID, item_id: uuid.UUID
    ) -> dict[str, Any] | None:
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        return await self._one(
            sa.select(table).where(
                table.c.account_id == account_id, table.c.site_id == site_id, key == item_id
            )
        )

    async def update_item(
        self,
        kind: str,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        item_id: uuid.UUID,
        values: dict[str, Any],
    ) -> bool:
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        changed = await self.session.execute(
            sa.update(table)
            .where(table.c.account_id == account_id, table.c.site_id == site_id, key == item_id)
            .values(**values)
            .returning(key)
        )
        return changed.first() is not None

    async def delete_item(
        self, kind: str, account_id: uuid.UUID, site_id: uuid.UUID, item_id: uuid.UUID
    ) -> bool:
        """Delete a cluster, idea or article with what hangs off it (keywords return to `new`)."""
        found = await self.get_item(kind, account_id, site_id, item_id)
        if found is None:
            return False
        content_ids: list[Any] = []
        if kind == "images":  # the prompt stays: the next run draws the image again
            await self.session.execute(sa.delete(images).where(images.c.image_id == item_id))
            return True
        if kind == "tasks":  # its idea becomes plannable again
            content_ids = list(
                (
                    await self.session.execute(
                        sa.select(contents.c.content_id).where(contents.c.task_id == item_id)
                    )
                ).scalars()
            )
            await self._delete_contents(content_ids)
            await self.session.execute(sa.delete(tasks).where(tasks.c.task_id == item_id))
            await self.session.execute(
                sa.update(ideas).where(ideas.c.idea_id == found["idea_id"]).values(status="new")
            )
            return True
        if kind == "clusters":
            await self.session.execute(
                sa.update(keywords)
                .where(keywords.c.cluster_id == item_id)
                .values(cluster_id=None, status="new")
            )
            idea_ids = list(
                (
                    await self.session.execute(
                        sa.select(ideas.c.idea_id).where(ideas.c.cluster_id == item_id)
                    )
                ).scalars()
            )
        elif kind == "ideas":
            idea_ids = [item_id]
        else:
            idea_ids, content_ids = [], [item_id]
        if idea_ids:
            task_ids = list(
                (
                    await self.session.execute(
                        sa.select(tasks.c.task_id).where(tasks.c.idea_id.in_(idea_ids))
                    )
                ).scalars()
            )
            if task_ids:
                content_ids += list(
                    (
                        await self.session.execute(
                            sa.select(contents.c.content_id).where(contents.c.task_id.in_(task_ids))
                        )
                    ).scalars()
                )
        await self._delete_contents(content_ids)
        if idea_ids:
            await self.session.execute(sa.delete(tasks).where(tasks.c.idea_id.in_(idea_ids)))
            await self.session.execute(sa.delete(ideas).where(ideas.c.idea_id.in_(idea_ids)))
        if kind == "clusters":
            await self.session.execute(sa.delete(clusters).where(clusters.c.cluster_id == item_id))
        return True

    async def _delete_contents(self, content_ids: list[Any]) -> None:
        if not content_ids:
            return
        prompt_ids = sa.select(image_prompts.c.prompt_id).where(
            image_prompts.c.content_id.in_(content_ids)
        )
        await self.session.execute(sa.delete(images).where(images.c.prompt_id.in_(prompt_ids)))
        await self.session.execute(
            sa.delete(image_prompts).where(image_prompts.c.content_id.in_(content_ids))
        )
        await self.session.execute(
            sa.delete(contents).where(contents.c.content_id.in_(content_ids))
        )

    async def delete_keyword(
        self, account_id: uuid.UUID, site_id: uuid.UUID, keyword_id: uuid.UUID
    ) -> bool:
        gone = await self.session.execute(
            sa.delete(keywords)
            .where(
                keywords.c.account_id == account_id,
                keywords.c.site_id == site_id,
                keywords.c.keyword_id == keyword_id,
            )
            .returning(keywords.c.keyword_id)
        )
        return gone.first() is not None

    async def image(self, account_id: uuid.UUID, image_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(images).where(
                images.c.image_id == image_id, images.c.account_id == account_id
            )
        )

    async def holds_of_run(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(run_holds)
            .where(run_holds.c.run_id == run_id)
            .order_by(run_holds.c.created_at)
        )
