"""The library people browse and edit over HTTP, tenant-scoped by account and site."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from automation.adapters.sqlalchemy_planner import ARTICLE_COLUMNS, stored_article
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
    IdeaStatus,
    ItemEdit,
    KeywordStatus,
    LibraryItem,
    LibraryKind,
    StoredArticle,
)

LISTABLE: dict[str, sa.Table] = {
    LibraryKind.KEYWORDS: keywords,
    LibraryKind.CLUSTERS: clusters,
    LibraryKind.IDEAS: ideas,
    LibraryKind.TASKS: tasks,
    LibraryKind.CONTENT: contents,
    LibraryKind.IMAGES: images,
}


class SqlAlchemyLibrary(SessionRepository):
    async def get_item(
        self, kind: LibraryKind, account_id: uuid.UUID, site_id: uuid.UUID, item_id: uuid.UUID
    ) -> LibraryItem | None:
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        parents = [table.c[c] for c in ("idea_id", "task_id") if c in table.c and c != key.name]
        found = await self.session.execute(
            sa.select(key, *parents).where(
                table.c.account_id == account_id, table.c.site_id == site_id, key == item_id
            )
        )
        row = found.first()
        if row is None:
            return None
        columns = row._mapping
        return LibraryItem(
            kind=kind,
            item_id=item_id,
            idea_id=columns.get("idea_id"),
            task_id=columns.get("task_id"),
        )

    async def article(
        self, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
    ) -> StoredArticle | None:
        found = await self.session.execute(
            sa.select(*ARTICLE_COLUMNS).where(
                contents.c.account_id == account_id,
                contents.c.site_id == site_id,
                contents.c.content_id == content_id,
            )
        )
        row = found.first()
        return stored_article(row._mapping) if row is not None else None

    async def update_item(
        self,
        kind: LibraryKind,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        item_id: uuid.UUID,
        values: ItemEdit,
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

    async def ids(
        self, kind: LibraryKind, parent: str, parent_ids: list[uuid.UUID]
    ) -> list[uuid.UUID]:
        """Ids of the `kind` rows whose `parent` column is one of `parent_ids`."""
        if not parent_ids:
            return []
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        found = await self.session.execute(sa.select(key).where(table.c[parent].in_(parent_ids)))
        return list(found.scalars())

    async def delete(self, kind: LibraryKind, item_ids: list[uuid.UUID]) -> None:
        """Delete rows of `kind`; an article goes with its image prompts and images."""
        if not item_ids:
            return
        if kind is LibraryKind.CONTENT:
            prompt_ids = sa.select(image_prompts.c.prompt_id).where(
                image_prompts.c.content_id.in_(item_ids)
            )
            await self.session.execute(sa.delete(images).where(images.c.prompt_id.in_(prompt_ids)))
            await self.session.execute(
                sa.delete(image_prompts).where(image_prompts.c.content_id.in_(item_ids))
            )
        table = LISTABLE[kind]
        key = next(iter(table.primary_key.columns))
        await self.session.execute(sa.delete(table).where(key.in_(item_ids)))

    async def set_ideas_new(self, idea_ids: list[uuid.UUID]) -> None:
        await self.session.execute(
            sa.update(ideas).where(ideas.c.idea_id.in_(idea_ids)).values(status=IdeaStatus.NEW)
        )

    async def release_keywords(self, cluster_id: uuid.UUID) -> None:
        await self.session.execute(
            sa.update(keywords)
            .where(keywords.c.cluster_id == cluster_id)
            .values(cluster_id=None, status=KeywordStatus.NEW)
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
