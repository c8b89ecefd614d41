"""PostgreSQL persistence of the planner/writer data and the runs; every query is tenant-scoped
by site (and account where a request comes from outside)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from automation.adapters.sqlalchemy_tables import (
    automation_configs,
    clusters,
    contents,
    ideas,
    image_prompts,
    images,
    keywords,
    known_sites,
    run_holds,
    run_items,
    runs,
    schedule_state,
    stage_results,
    tasks,
)
from automation.domain.errors import RunConflict
from automation.domain.keywords import KeywordRow
from automation.domain.runs import DRIVEN, LIVE, LeaseLost

KEYWORD_CHUNK = 2_000
"""Rows per INSERT: 9 parameters each stays well under asyncpg's 32,767."""

LISTABLE = {
    "keywords": keywords,
    "clusters": clusters,
    "ideas": ideas,
    "tasks": tasks,
    "content": contents,
    "images": images,
}


def _dict(row: Any) -> dict[str, Any]:
    return dict(row._mapping) if row is not None else {}


# A task with the idea it writes up: what stage 4 sends to the model.
_TASKS_WITH_IDEAS = sa.select(
    tasks.c.task_id,
    tasks.c.idea_id,
    ideas.c.title,
    ideas.c.brief,
    ideas.c.outline,
    ideas.c.target_keywords,
    ideas.c.structure,
).join(ideas, ideas.c.idea_id == tasks.c.idea_id)


class SqlAlchemyAutomationStore:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _one(self, query: Any) -> dict[str, Any] | None:
        row = (await self.session.execute(query)).first()
        return _dict(row) if row is not None else None

    async def _all(self, query: Any) -> list[dict[str, Any]]:
        return [_dict(r) for r in await self.session.execute(query)]

    # -- sites and config --------------------------------------------------------------------

    async def site(self, account_id: uuid.UUID, site_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(known_sites).where(
                known_sites.c.site_id == site_id,
                known_sites.c.account_id == account_id,
                ~known_sites.c.deleted,
            )
        )

    async def config(self, site_id: uuid.UUID) -> dict[str, Any] | None:
        found = await self._one(
            sa.select(automation_configs.c.config).where(automation_configs.c.site_id == site_id)
        )
        return found["config"] if found else None

    async def save_config(
        self, account_id: uuid.UUID, site_id: uuid.UUID, config: dict[str, Any]
    ) -> None:
        statement = insert(automation_configs).values(
            site_id=site_id, account_id=account_id, config=config
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[automation_configs.c.site_id],
                set_={"config": statement.excluded.config, "updated_at": sa.func.now()},
            )
        )

    # -- keywords ----------------------------------------------------------------------------

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

    # -- work queues ---------------------------------------------------------------------------

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

    async def replace_content(
        self, content_id: uuid.UUID, run_id: uuid.UUID, article: dict[str, Any], words: int
    ) -> None:
        await self.session.execute(
            sa.update(contents)
            .where(contents.c.content_id == content_id)
            .values(
                run_id=run_id,
                title=article["title"],
                html=article["html"],
                meta_title=article["meta_title"][:200],
                meta_description=article["meta_description"][:400],
                slug=article["slug"][:200],
                keywords=article["keywords"],
                word_count=words,
                status="ready",
            )
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

    # -- planner writes (idempotent per item) ------------------------------------------------

    async def save_clusters(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        found: list[dict[str, Any]],
        by_keyword: dict[str, uuid.UUID],
    ) -> int:
        made = 0
        for cluster in found:
            members = [by_keyword[k] for k in dict.fromkeys(cluster["keywords"]) if k in by_keyword]
            if not members:
                continue
            cluster_id = uuid.uuid4()
            await self.session.execute(
                sa.insert(clusters).values(
                    cluster_id=cluster_id,
                    account_id=account_id,
                    site_id=site_id,
                    run_id=run_id,
                    name=cluster["name"][:200],
                    description=cluster["description"],
                    primary_keyword=cluster["primary_keyword"],
                    keyword_count=len(members),
                )
            )
            await self.session.execute(
                sa.update(keywords)
                .where(
                    keywords.c.site_id == site_id,
                    keywords.c.keyword_id.in_(members),
                    keywords.c.status == "new",
                )
                .values(status="clustered", cluster_id=cluster_id)
            )
            for member in members:
                by_keyword = {k: v for k, v in by_keyword.items() if v != member}
            made += 1
        # keywords the model left out stay available for another batch, but not in a loop forever
        if by_keyword:
            await self.session.execute(
                sa.update(keywords)
                .where(
                    keywords.c.keyword_id.in_(list(by_keyword.values())), keywords.c.status == "new"
                )
                .values(status="archived")
            )
        return made

    async def save_ideas(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        cluster_id: uuid.UUID,
        found: list[dict[str, Any]],
    ) -> int:
        for idea in found:
            await self.session.execute(
                sa.insert(ideas).values(
                    idea_id=uuid.uuid4(),
                    account_id=account_id,
                    site_id=site_id,
                    cluster_id=cluster_id,
                    run_id=run_id,
                    title=idea["title"],
                    brief=idea["brief"],
                    outline=idea["outline"],
                    target_keywords=idea["target_keywords"],
                    content_type=idea["content_type"],
                    structure=idea["structure"],
                )
            )
        await self.session.execute(
            sa.update(clusters).where(clusters.c.cluster_id == cluster_id).values(status="planned")
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
            sa.update(ideas).where(ideas.c.idea_id.in_(idea_ids)).values(status="queued")
        )
        return len(made.all())

    async def save_content(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        task_id: uuid.UUID,
        article: dict[str, Any],
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
                title=article["title"],
                html=article["html"],
                meta_title=article["meta_title"][:200],
                meta_description=article["meta_description"][:400],
                slug=article["slug"][:200],
                keywords=article["keywords"],
                word_count=word_count,
                status="ready",
            )
        )
        await self.session.execute(
            sa.update(tasks).where(tasks.c.task_id == task_id).values(status="completed")
        )
        return content_id

    async def save_prompts(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        content_id: uuid.UUID,
        found: dict[str, Any],
        inline_limit: int,
    ) -> int:
        slots = [("featured", 0, found["featured"])] + [
            ("inline", n + 1, p) for n, p in enumerate(found["inline"][:inline_limit])
        ]
        for kind, position, prompt in slots:
            await self.session.execute(
                insert(image_prompts)
                .values(
                    prompt_id=uuid.uuid4(),
                    account_id=account_id,
                    site_id=site_id,
                    content_id=content_id,
                    kind=kind,
                    position=position,
                    prompt=prompt["prompt"],
                    alt=prompt["alt"],
                )
                .on_conflict_do_nothing()
            )
        return len(slots)

    async def save_image(
        self, prompt: dict[str, Any], storage_key: str, width: int, height: int, size: int
    ) -> uuid.UUID:
        image_id = uuid.uuid4()
        await self.session.execute(
            sa.insert(images).values(
                image_id=image_id,
                account_id=prompt["account_id"],
                site_id=prompt["site_id"],
                prompt_id=prompt["prompt_id"],
                content_id=prompt["content_id"],
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

    async def contents_of_run(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        found = await self._all(
            sa.select(contents).where(contents.c.run_id == run_id).order_by(contents.c.created_at)
        )
        for content in found:
            content["images"] = await self._all(
                sa.select(
                    images.c.image_id,
                    image_prompts.c.kind,
                    image_prompts.c.position,
                    image_prompts.c.alt,
                )
                .join(image_prompts, image_prompts.c.prompt_id == images.c.prompt_id)
                .where(images.c.content_id == content["content_id"])
                .order_by(image_prompts.c.position)
            )
        return found

    async def image(self, account_id: uuid.UUID, image_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(images).where(
                images.c.image_id == image_id, images.c.account_id == account_id
            )
        )

    # -- schedules -----------------------------------------------------------------------------

    async def scheduled_sites(self) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(
                automation_configs.c.site_id,
                automation_configs.c.account_id,
                automation_configs.c.config,
                schedule_state.c.last_occurrence,
            )
            .join(known_sites, known_sites.c.site_id == automation_configs.c.site_id)
            .outerjoin(schedule_state, schedule_state.c.site_id == automation_configs.c.site_id)
            .where(
                ~known_sites.c.deleted,
                automation_configs.c.config["schedule"]["frequency"].astext != "none",
            )
        )

    async def mark_occurrence(self, site_id: uuid.UUID, occurrence: datetime, outcome: str) -> None:
        statement = insert(schedule_state).values(
            site_id=site_id, last_occurrence=occurrence, last_outcome=outcome
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[schedule_state.c.site_id],
                set_={
                    "last_occurrence": statement.excluded.last_occurrence,
                    "last_outcome": statement.excluded.last_outcome,
                },
            )
        )

    # -- runs ------------------------------------------------------------------------------

    async def create_run(self, values: dict[str, Any]) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(sa.insert(runs).values(**values))
        except IntegrityError:
            raise RunConflict("the site already has a reserving, running or paused run") from None

    async def run(
        self, run_id: uuid.UUID, account_id: uuid.UUID | None = None
    ) -> dict[str, Any] | None:
        query = sa.select(runs).where(runs.c.run_id == run_id)
        if account_id is not None:
            query = query.where(runs.c.account_id == account_id)
        return await self._one(query)

    async def runs_for_site(
        self, account_id: uuid.UUID, site_id: uuid.UUID, limit: int
    ) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(runs)
            .where(runs.c.account_id == account_id, runs.c.site_id == site_id)
            .order_by(runs.c.created_at.desc())
            .limit(limit)
        )

    async def live_run(self, site_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(runs).where(runs.c.site_id == site_id, runs.c.status.in_(LIVE))
        )

    async def runs_needing_a_worker(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(runs.c.run_id)
            .where(
                runs.c.status.in_(DRIVEN),
                sa.or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at < now),
            )
            .order_by(runs.c.created_at)
            .limit(limit)
        )
        return list(rows.scalars())

    async def acquire_lease(
        self, run_id: uuid.UUID, owner: str, now: datetime, ttl_s: float
    ) -> int | None:
        """Take over a run nobody holds (or whose holder's lease ran out); the new fencing token
        makes every write of a previous holder fail."""
        got = await self.session.execute(
            sa.update(runs)
            .where(
                runs.c.run_id == run_id,
                runs.c.status.in_(DRIVEN),
                sa.or_(runs.c.lease_expires_at.is_(None), runs.c.lease_expires_at < now),
            )
            .values(
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=ttl_s),
                fencing_token=runs.c.fencing_token + 1,
            )
            .returning(runs.c.fencing_token)
        )
        token = got.scalar()
        return int(token) if token is not None else None

    async def renew_lease(self, run_id: uuid.UUID, token: int, now: datetime, ttl_s: float) -> bool:
        renewed = await self.session.execute(
            sa.update(runs)
            .where(
                runs.c.run_id == run_id,
                runs.c.fencing_token == token,
                runs.c.lease_owner.is_not(None),
            )
            .values(lease_expires_at=now + timedelta(seconds=ttl_s))
            .returning(runs.c.run_id)
        )
        return renewed.first() is not None

    async def release_lease(self, run_id: uuid.UUID, token: int) -> None:
        await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.fencing_token == token)
            .values(lease_owner=None, lease_expires_at=None)
        )

    async def guard(
        self, run_id: uuid.UUID, token: int, statuses: tuple[str, ...] = DRIVEN
    ) -> dict[str, Any]:
        """Lock the run for this transaction, refusing a holder whose lease was taken over and a
        writer that expects the run in another state (a late finisher after an end or pause)."""
        row = await self._one(sa.select(runs).where(runs.c.run_id == run_id).with_for_update())
        if row is None or row["fencing_token"] != token:
            raise LeaseLost(f"run {run_id}: lease lost (token {token})")
        if row["status"] not in statuses:
            raise LeaseLost(f"run {run_id} is {row['status']}, not {'/'.join(statuses)}")
        return row

    async def transition(
        self, run_id: uuid.UUID, expected: tuple[str, ...], status: str, **values: Any
    ) -> bool:
        """Compare-and-set: the run changes state only from one of the `expected` states (under
        concurrent changes PostgreSQL re-checks the condition after the row lock)."""
        changed = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status.in_(expected))
            .values(status=status, **values)
            .returning(runs.c.run_id)
        )
        return changed.first() is not None

    async def request(self, run_id: uuid.UUID, expected: tuple[str, ...], what: str) -> bool:
        """Ask the driving worker to pause or cancel between items."""
        changed = await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id, runs.c.status.in_(expected))
            .values(requested=what)
            .returning(runs.c.run_id)
        )
        return changed.first() is not None

    async def add_charge(self, run_id: uuid.UUID, credits: int) -> None:
        await self.session.execute(
            sa.update(runs)
            .where(runs.c.run_id == run_id)
            .values(credits_charged=runs.c.credits_charged + credits)
        )

    async def update_run(self, run_id: uuid.UUID, **values: Any) -> None:
        """Fields other than the status (those change by `transition`)."""
        assert "status" not in values, "status changes are compare-and-set: use transition()"
        await self.session.execute(sa.update(runs).where(runs.c.run_id == run_id).values(**values))

    async def holds(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(run_holds)
            .where(run_holds.c.run_id == run_id)
            .order_by(run_holds.c.created_at)
        )

    async def holds_for_update(self, run_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(run_holds)
            .where(run_holds.c.run_id == run_id)
            .order_by(run_holds.c.created_at)
            .with_for_update()
        )

    async def holds_by_reservation(self, reservation_id: uuid.UUID) -> list[dict[str, Any]]:
        return await self._all(
            sa.select(run_holds).where(run_holds.c.reservation_id == reservation_id)
        )

    async def add_hold(
        self, run_id: uuid.UUID, account_id: uuid.UUID, reservation_id: uuid.UUID
    ) -> None:
        await self.session.execute(
            sa.insert(run_holds).values(
                reservation_id=reservation_id,
                run_id=run_id,
                account_id=account_id,
                status="requested",
            )
        )

    async def update_hold(self, reservation_id: uuid.UUID, **values: Any) -> bool:
        changed = await self.session.execute(
            sa.update(run_holds)
            .where(run_holds.c.reservation_id == reservation_id)
            .values(**values)
            .returning(run_holds.c.reservation_id)
        )
        return changed.first() is not None

    async def item_state(self, run_id: uuid.UUID, item_key: str) -> str | None:
        found = await self._one(
            sa.select(run_items.c.status).where(
                run_items.c.run_id == run_id, run_items.c.item_key == item_key
            )
        )
        return found["status"] if found else None

    async def item_done(self, run_id: uuid.UUID, item_key: str) -> bool:
        found = await self._one(
            sa.select(run_items.c.status).where(
                run_items.c.run_id == run_id, run_items.c.item_key == item_key
            )
        )
        return bool(found and found["status"] == "done")

    async def checkpoint(
        self,
        run_id: uuid.UUID,
        item_key: str,
        stage: int,
        status: str,
        commit_id: uuid.UUID | None = None,
        credits: int = 0,
        detail: dict[str, Any] | None = None,
    ) -> None:
        statement = insert(run_items).values(
            run_id=run_id,
            item_key=item_key,
            stage=stage,
            status=status,
            commit_id=commit_id,
            credits=credits,
            detail=detail or {},
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[run_items.c.run_id, run_items.c.item_key],
                set_={
                    "status": statement.excluded.status,
                    "commit_id": statement.excluded.commit_id,
                    "credits": statement.excluded.credits,
                    "detail": statement.excluded.detail,
                },
                where=run_items.c.status != "done",
            )
        )

    async def settle_capture(self, commit_id: uuid.UUID) -> None:
        await self.session.execute(
            sa.update(run_items).where(run_items.c.commit_id == commit_id).values(settled=True)
        )

    async def unsettled_captures(self, run_id: uuid.UUID) -> int:
        return int(
            (
                await self.session.execute(
                    sa.select(sa.func.count())
                    .select_from(run_items)
                    .where(
                        run_items.c.run_id == run_id,
                        run_items.c.commit_id.is_not(None),
                        ~run_items.c.settled,
                    )
                )
            ).scalar_one()
        )

    async def item_states(self, run_id: uuid.UUID, keys: list[str]) -> dict[str, str]:
        rows = await self.session.execute(
            sa.select(run_items.c.item_key, run_items.c.status).where(
                run_items.c.run_id == run_id, run_items.c.item_key.in_(keys)
            )
        )
        return {key: status for key, status in rows}

    async def prompt(self, prompt_id: uuid.UUID) -> dict[str, Any] | None:
        return await self._one(
            sa.select(image_prompts).where(image_prompts.c.prompt_id == prompt_id)
        )

    async def item_tally(self, run_id: uuid.UUID) -> dict[int, dict[str, int]]:
        rows = await self.session.execute(
            sa.select(
                run_items.c.stage,
                run_items.c.status,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(run_items.c.credits), 0),
            )
            .where(run_items.c.run_id == run_id)
            .group_by(run_items.c.stage, run_items.c.status)
        )
        tally: dict[int, dict[str, int]] = {}
        for stage, status, count, credits in rows:
            entry = tally.setdefault(stage, {"done": 0, "failed": 0, "credits": 0})
            entry[status] = entry.get(status, 0) + count
            entry["credits"] += int(credits)
        return tally

    async def save_stage_result(
        self, run_id: uuid.UUID, stage: int, result: dict[str, Any]
    ) -> None:
        statement = insert(stage_results).values(run_id=run_id, stage=stage, result=result)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[stage_results.c.run_id, stage_results.c.stage],
                set_={"result": statement.excluded.result, "updated_at": sa.func.now()},
            )
        )

    async def stage_results(self, run_id: uuid.UUID) -> dict[int, dict[str, Any]]:
        rows = await self.session.execute(
            sa.select(stage_results).where(stage_results.c.run_id == run_id)
        )
        return {r.stage: r.result for r in rows}
