"""What the pipeline writes: keywords, clusters, ideas, tasks, articles, image prompts, images."""

from __future__ import annotations

import uuid
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

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
from automation.domain.keywords import KeywordRow
from automation.domain.library import (
    ArticleImage,
    ClusterStatus,
    ContentStatus,
    IdeaStatus,
    ImagePrompt,
    KeywordStatus,
    StoredArticle,
    TaskStatus,
)
from automation.domain.results import Article, FoundCluster, FoundIdea, FoundPrompts

KEYWORD_CHUNK = 2_000
"""Rows per INSERT: 9 parameters each stays well under asyncpg's 32,767."""


class SqlAlchemyPlannerRepository(SessionRepository):
    async def add_keywords(
        self, account_id: uuid.UUID, site_id: uuid.UUID, rows: list[KeywordRow]
    ) -> int:
        """Insert in chunks (one statement may carry at most 32,767 parameters), all in the
        caller's transaction: every row or none."""
        added = 0
        for start in range(0, len(rows), KEYWORD_CHUNK):
            inserted = await self.session.execute(
                insert(keywords)
                .values(
                    [
                        {
                            "keyword_id": uuid.uuid4(),
                            "account_id": account_id,
                            "site_id": site_id,
                            "keyword": r.keyword,
                            "volume": r.volume,
                            "difficulty": r.difficulty,
                            "cpc": r.cpc,
                            "intent": r.intent,
                            "country": r.country,
                        }
                        for r in rows[start : start + KEYWORD_CHUNK]
                    ]
                )
                .on_conflict_do_nothing()
                .returning(keywords.c.keyword_id)
            )
            added += len(inserted.all())
        return added

    async def save_clusters(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        found: tuple[FoundCluster, ...],
        by_keyword: dict[str, uuid.UUID],
    ) -> int:
        """Three statements for the whole batch (not two per cluster): the clusters, their
        keywords' assignment, and the keywords the model left out. A keyword named by several
        clusters goes to the first."""
        remaining = dict(by_keyword)
        made: list[dict[str, object]] = []
        assigned: dict[uuid.UUID, uuid.UUID] = {}
        for cluster in found:
            members = [remaining[k] for k in dict.fromkeys(cluster.keywords) if k in remaining]
            if not members:
                continue
            cluster_id = uuid.uuid4()
            made.append(
                {
                    "cluster_id": cluster_id,
                    "account_id": account_id,
                    "site_id": site_id,
                    "run_id": run_id,
                    "name": cluster.name[:200],
                    "description": cluster.description,
                    "primary_keyword": cluster.primary_keyword,
                    "keyword_count": len(members),
                }
            )
            assigned.update(dict.fromkeys(members, cluster_id))
            taken = set(members)
            remaining = {k: v for k, v in remaining.items() if v not in taken}
        if made:
            await self.session.execute(sa.insert(clusters).values(made))
            await self.session.execute(
                sa.update(keywords)
                .where(
                    keywords.c.site_id == site_id,
                    keywords.c.keyword_id.in_(list(assigned)),
                    keywords.c.status == KeywordStatus.NEW,
                )
                .values(
                    status=KeywordStatus.CLUSTERED,
                    cluster_id=sa.case(assigned, value=keywords.c.keyword_id),
                )
            )
        # keywords the model left out stay available for another batch, but not in a loop forever
        if remaining:
            await self.session.execute(
                sa.update(keywords)
                .where(
                    keywords.c.keyword_id.in_(list(remaining.values())),
                    keywords.c.status == KeywordStatus.NEW,
                )
                .values(status=KeywordStatus.ARCHIVED)
            )
        return len(made)

    async def save_ideas(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        cluster_id: uuid.UUID,
        found: tuple[FoundIdea, ...],
    ) -> int:
        if found:  # one statement for the cluster's ideas (one round trip, not one per idea)
            await self.session.execute(
                sa.insert(ideas).values(
                    [
                        {
                            "idea_id": uuid.uuid4(),
                            "account_id": account_id,
                            "site_id": site_id,
                            "cluster_id": cluster_id,
                            "run_id": run_id,
                            "title": idea.title,
                            "brief": idea.brief,
                            "outline": list(idea.outline),
                            "target_keywords": list(idea.target_keywords),
                            "content_type": idea.content_type,
                            "structure": idea.structure,
                        }
                        for idea in found
                    ]
                )
            )
        await self.session.execute(
            sa.update(clusters)
            .where(clusters.c.cluster_id == cluster_id)
            .values(status=ClusterStatus.PLANNED)
        )
        return len(found)

    async def create_tasks(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        idea_ids: list[uuid.UUID],
    ) -> int:
        if not idea_ids:
            return 0
        made = await self.session.execute(
            insert(tasks)
            .values(
                [
                    {
                        "task_id": uuid.uuid4(),
                        "account_id": account_id,
                        "site_id": site_id,
                        "idea_id": i,
                        "run_id": run_id,
                    }
                    for i in idea_ids
                ]
            )
            .on_conflict_do_nothing()
            .returning(tasks.c.task_id)
        )
        await self.session.execute(
            sa.update(ideas).where(ideas.c.idea_id.in_(idea_ids)).values(status=IdeaStatus.QUEUED)
        )
        return len(made.all())

    async def save_content(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        task_id: uuid.UUID,
        article: Article,
        word_count: int,
    ) -> uuid.UUID:
        content_id = uuid.uuid4()
        await self.session.execute(
            sa.insert(contents).values(
                content_id=content_id,
                account_id=account_id,
                site_id=site_id,
                task_id=task_id,
                run_id=run_id,
                **_article_columns(article),
                word_count=word_count,
                status=ContentStatus.READY,
            )
        )
        await self.session.execute(
            sa.update(tasks).where(tasks.c.task_id == task_id).values(status=TaskStatus.COMPLETED)
        )
        return content_id

    async def replace_content(
        self, content_id: uuid.UUID, run_id: uuid.UUID, article: Article, words: int
    ) -> None:
        await self.session.execute(
            sa.update(contents)
            .where(contents.c.content_id == content_id)
            .values(
                run_id=run_id,
                **_article_columns(article),
                word_count=words,
                status=ContentStatus.READY,
                version=contents.c.version + 1,  # publishing re-publishes the newer version
            )
        )

    async def save_prompts(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        content_id: uuid.UUID,
        found: FoundPrompts,
        inline_limit: int,
    ) -> int:
        slots = [("featured", 0, found.featured)] + [
            ("inline", n + 1, p) for n, p in enumerate(found.inline[:inline_limit])
        ]
        await self.session.execute(  # one statement for the article's prompts
            insert(image_prompts)
            .values(
                [
                    {
                        "prompt_id": uuid.uuid4(),
                        "account_id": account_id,
                        "site_id": site_id,
                        "content_id": content_id,
                        "kind": kind,
                        "position": position,
                        "prompt": prompt.prompt,
                        "alt": prompt.alt,
                    }
                    for kind, position, prompt in slots
                ]
            )
            .on_conflict_do_nothing()
        )
        return len(slots)

    async def save_image(
        self, prompt: ImagePrompt, storage_key: str, width: int, height: int, size: int
    ) -> uuid.UUID:
        image_id = uuid.uuid4()
        await self.session.execute(
            sa.insert(images).values(
                image_id=image_id,
                account_id=prompt.account_id,
                site_id=prompt.site_id,
                prompt_id=prompt.prompt_id,
                content_id=prompt.content_id,
                storage_key=storage_key,
                width=width,
                height=height,
                bytes=size,
            )
        )
        return image_id

    async def content_html_for_update(self, content_id: uuid.UUID) -> str | None:
        found = await self.session.execute(
            sa.select(contents.c.html).where(contents.c.content_id == content_id).with_for_update()
        )
        return found.scalar()

    async def set_content_html(self, content_id: uuid.UUID, html: str) -> None:
        await self.session.execute(
            sa.update(contents).where(contents.c.content_id == content_id).values(html=html)
        )

    async def contents_of_run(self, run_id: uuid.UUID) -> list[StoredArticle]:
        found = await self.session.execute(
            sa.select(*ARTICLE_COLUMNS)
            .where(contents.c.run_id == run_id)
            .order_by(contents.c.created_at, contents.c.content_id)
        )
        articles = [stored_article(row._mapping) for row in found]
        if not articles:
            return []
        # every article's images in one query (not one query per article)
        drawn: dict[uuid.UUID, list[ArticleImage]] = {}
        for content_id, image in await self._images(contents.c.run_id == run_id):
            drawn.setdefault(content_id, []).append(image)
        return [replace(a, images=tuple(drawn.get(a.content_id, ()))) for a in articles]

    async def images_of_content(self, content_id: uuid.UUID) -> list[ArticleImage]:
        return [image for _, image in await self._images(contents.c.content_id == content_id)]

    async def _images(self, which: sa.ColumnElement[bool]) -> list[tuple[uuid.UUID, ArticleImage]]:
        found = await self.session.execute(
            sa.select(
                images.c.content_id,
                images.c.image_id,
                image_prompts.c.kind,
                image_prompts.c.position,
                image_prompts.c.alt,
            )
            .join(image_prompts, image_prompts.c.prompt_id == images.c.prompt_id)
            .join(contents, contents.c.content_id == images.c.content_id)
            .where(which)
            .order_by(images.c.content_id, image_prompts.c.position)
        )
        return [
            (row.content_id, ArticleImage(row.image_id, row.kind, row.position, row.alt))
            for row in found
        ]


ARTICLE_COLUMNS = (
    contents.c.content_id,
    contents.c.account_id,
    contents.c.site_id,
    contents.c.task_id,
    contents.c.run_id,
    contents.c.title,
    contents.c.html,
    contents.c.meta_title,
    contents.c.meta_description,
    contents.c.slug,
    contents.c.keywords,
    contents.c.status,
    contents.c.version,
)


def stored_article(row: sa.RowMapping) -> StoredArticle:
    return StoredArticle(
        content_id=row["content_id"],
        account_id=row["account_id"],
        site_id=row["site_id"],
        task_id=row["task_id"],
        run_id=row["run_id"],
        title=row["title"],
        html=row["html"],
        meta_title=row["meta_title"],
        meta_description=row["meta_description"],
        slug=row["slug"],
        keywords=tuple(row["keywords"]),
        status=ContentStatus(row["status"]),
        version=row["version"],
    )


def _article_columns(article: Article) -> dict[str, object]:
    return {
        "title": article.title,
        "html": article.html,
        "meta_title": article.meta_title[:200],
        "meta_description": article.meta_description[:400],
        "slug": article.slug[:200],
        "keywords": list(article.keywords),
    }
