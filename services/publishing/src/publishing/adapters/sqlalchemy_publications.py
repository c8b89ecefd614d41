"""SQLAlchemy repository of publications and their transitions. Helpers never commit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from publishing.adapters.sqlalchemy_tables import publication_transitions, publications
from publishing.domain.model import Publication, Status, Transition


def _publication(m: Any) -> Publication:
    return Publication(
        publication_id=m["publication_id"],
        account_id=m["account_id"],
        site_id=m["site_id"],
        content_id=m["content_id"],
        integration_id=m["integration_id"],
        platform=m["platform"],
        slug=m["slug"],
        status=Status(m["status"]),
        content_version=m["content_version"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        published_version=m["published_version"],
        score=m["score"],
        hold_reason=m["hold_reason"],
        scheduled_for=m["scheduled_for"],
        attempts=m["attempts"],
        remote_id=m["remote_id"],
        remote_url=m["remote_url"],
        remote_modified=m["remote_modified"],
        create_started_at=m["create_started_at"],
        lease_until=m["lease_until"],
        last_error=m["last_error"],
        published_at=m["published_at"],
    )


COLUMNS = (
    "status",
    "content_version",
    "published_version",
    "score",
    "hold_reason",
    "scheduled_for",
    "attempts",
    "remote_id",
    "remote_url",
    "remote_modified",
    "create_started_at",
    "lease_until",
    "last_error",
    "published_at",
    "updated_at",
    "slug",
)


DUE_CHANNEL = "publishing_due"
"""NOTIFY channel: a publication was scheduled (sent at commit; the scheduler LISTENs)."""


class SqlAlchemyPublications:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._notified = False

    async def get(self, publication_id: uuid.UUID, lock: bool = False) -> Publication | None:
        query = sa.select(publications).where(publications.c.publication_id == publication_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return _publication(row._mapping) if row else None

    async def _where(self, *conditions: Any) -> list[Publication]:
        rows = await self.session.execute(
            sa.select(publications).where(*conditions).order_by(publications.c.created_at)
        )
        return [_publication(r._mapping) for r in rows]

    async def for_article(self, content_id: uuid.UUID) -> list[Publication]:
        return await self._where(publications.c.content_id == content_id)

    async def of_site(self, site_id: uuid.UUID, statuses: frozenset[Status]) -> list[Publication]:
        return await self._where(
            publications.c.site_id == site_id,
            publications.c.status.in_([s.value for s in statuses]),
        )

    async def of_integration(
        self, integration_id: uuid.UUID, statuses: frozenset[Status]
    ) -> list[Publication]:
        return await self._where(
            publications.c.integration_id == integration_id,
            publications.c.status.in_([s.value for s in statuses]),
        )

    async def add(self, publication: Publication) -> None:
        await self.session.execute(
            sa.insert(publications).values(
                publication_id=publication.publication_id,
                account_id=publication.account_id,
                site_id=publication.site_id,
                content_id=publication.content_id,
                integration_id=publication.integration_id,
                platform=publication.platform,
                created_at=publication.created_at,
                **{c: _value(getattr(publication, c)) for c in COLUMNS},
            )
        )
        await self._transitions(publication)

    async def save(self, publication: Publication) -> None:
        await self.session.execute(
            sa.update(publications)
            .where(publications.c.publication_id == publication.publication_id)
            .values(**{c: _value(getattr(publication, c)) for c in COLUMNS})
        )
        await self._transitions(publication)

    async def _transitions(self, publication: Publication) -> None:
        scheduled = any(t.to_status == Status.SCHEDULED for t in publication.transitions)
        if scheduled and not self._notified:
            # delivered at commit (never for a rolled-back schedule), once per transaction: the
            # scheduler starts a pass now instead of at its next tick
            self._notified = True
            await self.session.execute(sa.select(sa.func.pg_notify(DUE_CHANNEL, "")))
        if publication.transitions:
            await self.session.execute(
                sa.insert(publication_transitions),
                [_transition(publication.publication_id, t) for t in publication.transitions],
            )
            publication.transitions.clear()

    async def latest_scheduled(self, integration_id: uuid.UUID) -> datetime | None:
        found: datetime | None = await self.session.scalar(
            sa.select(sa.func.max(publications.c.scheduled_for)).where(
                publications.c.integration_id == integration_id,
                publications.c.status == Status.SCHEDULED.value,
            )
        )
        return found

    async def count_scheduled(self, site_id: uuid.UUID) -> int:
        return int(
            await self.session.scalar(
                sa.select(sa.func.count()).where(
                    publications.c.site_id == site_id,
                    publications.c.status == Status.SCHEDULED.value,
                )
            )
            or 0
        )

    async def released_between(
        self, integration_id: uuid.UUID, start: datetime, end: datetime
    ) -> int:
        t = publication_transitions
        return int(
            await self.session.scalar(
                sa.select(sa.func.count(sa.distinct(t.c.publication_id)))
                .select_from(t.join(publications))
                .where(
                    publications.c.integration_id == integration_id,
                    t.c.to_status == Status.PUBLISHING.value,
                    t.c.from_status != Status.PUBLISHING.value,
                    t.c.at >= start,
                    t.c.at < end,
                )
            )
            or 0
        )

    async def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Due publications, fairly across accounts: each account's first due, then each one's
        second, … (each account's own in due order), so one account's thousand scheduled
        articles cannot hold back another's ten. Rows another replica holds are skipped."""
        p = publications
        is_due = sa.or_(
            sa.and_(p.c.status == Status.SCHEDULED.value, p.c.scheduled_for <= now),
            sa.and_(p.c.status == Status.PUBLISHING.value, p.c.lease_until < now),
        )
        turn = (
            sa.func.row_number()
            .over(partition_by=p.c.account_id, order_by=(p.c.scheduled_for, p.c.publication_id))
            .label("turn")
        )
        ranked = sa.select(p.c.publication_id, p.c.scheduled_for, turn).where(is_due).subquery()
        order = [
            r.publication_id
            for r in await self.session.execute(
                sa.select(ranked.c.publication_id)
                .order_by(ranked.c.turn, ranked.c.scheduled_for, ranked.c.publication_id)
                .limit(limit)
            )
        ]
        if not order:
            return []
        locked = await self.session.execute(  # FOR UPDATE cannot go with a window function
            sa.select(p.c.publication_id)
            .where(p.c.publication_id.in_(order), is_due)
            .with_for_update(skip_locked=True)
        )
        mine = {r.publication_id for r in locked}
        return [publication_id for publication_id in order if publication_id in mine]

    async def held_for_queue(self, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(publications.c.publication_id)
            .where(
                publications.c.status == Status.PENDING_APPROVAL.value,
                publications.c.hold_reason == "queue_full",
            )
            .order_by(publications.c.created_at)
            .limit(limit)
        )
        return [r.publication_id for r in rows]


def _value(value: Any) -> Any:
    return value.value if isinstance(value, Status) else value


def _transition(publication_id: uuid.UUID, t: Transition) -> dict[str, Any]:
    return {
        "publication_id": publication_id,
        "from_status": t.from_status.value if t.from_status else None,
        "to_status": t.to_status.value,
        "actor": t.actor,
        "reason": t.reason,
        "at": t.at,
    }
