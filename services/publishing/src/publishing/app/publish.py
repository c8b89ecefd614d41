"""Releasing due publications and publishing one through its destination — never twice.

Idempotency is ours (WordPress accepts the same post twice): before a create the publication
durably records `create_started_at`; the remote id is stored in its own transaction the moment
the create returns; a later attempt that finds a start without an id (a retry, a timeout, a
killed process) looks the post up by its deterministic slug before creating anything.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from igny8.observability import get_logger
from publishing.app.inbound import propose_inbound_many
from publishing.app.scheduling import emit, schedule
from publishing.domain.errors import DestinationFailure
from publishing.domain.model import Article, Integration, Status
from publishing.domain.schedule import after_daily_cap, local_day_bounds
from publishing.ports import (
    Clock,
    CredentialSource,
    Destinations,
    Hooks,
    ImageFile,
    ImageSource,
    Known,
    Post,
    RemotePost,
    Target,
    UnitOfWork,
)

UnitOfWorkFactory = Callable[[], UnitOfWork]
CREDENTIALS_REFUSED = frozenset({"bad_credentials", "missing_permissions"})
log = get_logger(__name__)


@dataclass(frozen=True)
class Published:
    """An article a publish has just put on a site: inbound links are proposed to it."""

    content_id: uuid.UUID
    site_id: uuid.UUID
    url: str


@dataclass(frozen=True)
class PublishPolicy:
    lease_s: float = 300.0
    """A publishing worker's claim; past it another replica takes the publication over."""
    max_attempts: int = 6
    backoff_s: float = 5.0
    max_backoff_s: float = 900.0


async def release_due(
    uow_factory: UnitOfWorkFactory, clock: Clock, policy: PublishPolicy, batch: int = 20
) -> list[uuid.UUID]:
    """Move due publications to `publishing` (daily caps checked); returns those to publish."""
    now = clock.now()
    released: list[uuid.UUID] = []
    async with uow_factory() as uow:
        for publication_id in await uow.publications.due(now, batch):
            publication = await uow.publications.get(publication_id)
            assert publication is not None
            site = await uow.replicas.site(publication.site_id)
            settings = await uow.settings.get(publication.site_id)
            tz = site.timezone if site else "UTC"
            if publication.status == Status.SCHEDULED and settings.daily_cap is not None:
                start, end = local_day_bounds(now, tz)
                done = await uow.publications.released_between(
                    publication.integration_id, start, end
                )
                if done >= settings.daily_cap:
                    later = after_daily_cap(settings.schedule, now, tz)
                    publication.schedule(
                        later, "scheduler", f"daily cap {settings.daily_cap} reached", now
                    )
                    await uow.publications.save(publication)
                    continue
            if publication.status == Status.PUBLISHING:
                # A worker stopped mid-publish (crash, kill): take over, but a publication that
                # keeps killing its workers fails for good instead of looping forever.
                publication.attempts += 1
                if publication.attempts >= policy.max_attempts:
                    publication.lease_until = None
                    publication.last_error = "worker_lost: the publish kept stopping its workers"
                    publication.move(Status.FAILED, "scheduler", publication.last_error, now)
                    await emit(uow, publication, "failed", "worker_lost")
                    await uow.publications.save(publication)
                    continue
                reason = "lease expired: taken over from a stopped worker"
            else:
                reason = "due"
            publication.move(Status.PUBLISHING, "scheduler", reason, now)
            publication.lease_until = now + timedelta(seconds=policy.lease_s)
            await uow.publications.save(publication)
            released.append(publication_id)
        await uow.commit()
    return released


async def promote_queued(uow_factory: UnitOfWorkFactory, clock: Clock, batch: int = 50) -> int:
    """Publications held only because the queue was full get scheduled once there is room."""
    now = clock.now()
    promoted = 0
    async with uow_factory() as uow:
        for publication_id in await uow.publications.held_for_queue(batch):
            publication = await uow.publications.get(publication_id, lock=True)
            if publication is None or publication.hold_reason != "queue_full":
                continue
            site = await uow.replicas.site(publication.site_id)
            if site is None or site.deleted:
                continue
            settings = await uow.settings.get(publication.site_id)
            if await schedule(
                uow, publication, site, settings, "scheduler", "room in the queue", now
            ):
                promoted += 1
                await uow.publications.save(publication)
        await uow.commit()
    return promoted


@dataclass
class Publisher:
    uow_factory: UnitOfWorkFactory
    destinations: Destinations
    credentials: CredentialSource
    images: ImageSource
    clock: Clock
    policy: PublishPolicy

    async def publish(
        self, publication_id: uuid.UUID, after: list[Published] | None = None
    ) -> Status | None:
        """Publish one released publication; returns its state afterwards. Inbound link
        proposals for a published article run at the end, or — given `after` — the article is
        added there for the caller to propose for with others (`propose_inbound`) once it has
        freed the destination's concurrency slot (they are CPU work over the site's articles,
        not the destination's, and cheaper for many at once)."""
        async with self.uow_factory() as uow:
            publication = await uow.publications.get(publication_id)
            if publication is None or publication.status != Status.PUBLISHING:
                return publication.status if publication else None
            article = await uow.articles.get(publication.content_id)
            integration = await uow.replicas.integration(publication.integration_id)
            settings = await uow.settings.get(publication.site_id)
        assert article is not None
        version = article.version
        try:
            if integration is None or not integration.usable:
                raise DestinationFailure(
                    "integration_unavailable", "the integration was removed", permanent=True
                )
            post = Post(
                publication_id=publication.publication_id,
                slug=publication.slug,
                title=article.title,
                html=article.linked_html,
                seo_title=article.meta_title or article.title,
                seo_description=article.meta_description,
                tags=tuple(article.keywords[:8]),
                categories=tuple(str(c) for c in _categories(integration.settings)),
                status=settings.default_status,
                publish_at=publication.scheduled_for
                if settings.default_status == "future"
                else None,
                images=tuple(await self._images(article)),
                keyphrase=article.keyphrase,
            )
            known = Known(
                publication.remote_id,
                publication.remote_modified,
                publication.outcome_unknown,
                earlier_attempts=publication.attempts > 0
                or publication.remote_id is not None
                or publication.create_started_at is not None,
            )
            sent: list[RemotePost | None] = []  # a create sent (None), and what it returned

            async def before_create() -> None:
                await self._create_started(publication_id)
                sent.append(None)

            async def created(remote: RemotePost) -> None:
                await self._created(publication_id, remote)
                sent.append(remote)

            hooks = Hooks(before_create=before_create, created=created)
            destination = self.destinations.for_platform(integration.platform)
            used = await self._credentials(integration)
            try:
                remote = await destination.publish(Target(integration, used), post, known, hooks)
            except DestinationFailure as failure:
                # Credentials kept from an earlier publish may have been rotated since: refused,
                # they are asked for again once (a refusal sends nothing, so no create is lost;
                # what the attempt uploaded is reused).
                if failure.reason not in CREDENTIALS_REFUSED or not self.credentials.forget(
                    integration.integration_id, used
                ):
                    raise
                # what the refused attempt may have created is known (or looked up): never twice
                made = next((r for r in reversed(sent) if r is not None), None)
                again = replace(
                    known,
                    remote_id=made.remote_id if made else known.remote_id,
                    remote_modified=made.modified if made else known.remote_modified,
                    outcome_unknown=known.outcome_unknown or (bool(sent) and made is None),
                    earlier_attempts=True,
                )
                remote = await destination.publish(
                    Target(integration, await self._credentials(integration)), post, again, hooks
                )
        except DestinationFailure as failure:
            return await self._failed(publication_id, failure)
        return await self._published(publication_id, remote, version, after)

    async def _credentials(self, integration: Integration) -> dict[str, str]:
        if integration.platform == "static":  # a static export folder needs none
            return {}
        return await self.credentials.credentials(
            integration.account_id, integration.integration_id
        )

    async def _images(self, article: Article) -> list[ImageFile]:
        """The article's image files, fetched side by side (all of them, or the first
        failure once every fetch has ended)."""
        fetched = await asyncio.gather(
            *(self.images.fetch(article.account_id, i.url) for i in article.images),
            return_exceptions=True,
        )
        files = []
        for image, outcome in zip(article.images, fetched, strict=True):
            if isinstance(outcome, BaseException):
                raise outcome
            data, content_type = outcome
            name = PurePosixPath(urlsplit(image.url).path).name or "image"
            if "." not in name:
                name += ".png" if content_type == "image/png" else ".jpg"
            files.append(ImageFile(image.url, image.alt, image.kind, name, content_type, data))
        return files

    async def _create_started(self, publication_id: uuid.UUID) -> None:
        async with self.uow_factory() as uow:
            publication = await uow.publications.get(publication_id, lock=True)
            assert publication is not None
            publication.create_started_at = self.clock.now()
            await uow.publications.save(publication)
            await uow.commit()

    async def _created(self, publication_id: uuid.UUID, remote: RemotePost) -> None:
        async with self.uow_factory() as uow:
            publication = await uow.publications.get(publication_id, lock=True)
            assert publication is not None
            publication.remote_id = remote.remote_id
            publication.remote_url = remote.url
            publication.remote_modified = remote.modified
            await uow.publications.save(publication)
            await uow.commit()

    async def _published(
        self,
        publication_id: uuid.UUID,
        remote: RemotePost,
        version: int,
        after: list[Published] | None = None,
    ) -> Status:
        now = self.clock.now()
        async with self.uow_factory() as uow:
            publication = await uow.publications.get(publication_id, lock=True)
            assert publication is not None
            publication.remote_id = remote.remote_id
            publication.remote_url = remote.url
            publication.remote_modified = remote.modified
            publication.published_version = version
            publication.published_at = now
            publication.lease_until = None
            publication.attempts = 0
            publication.last_error = None
            publication.move(Status.PUBLISHED, "worker", f"published version {version}", now)
            await emit(uow, publication, "completed")
            if publication.content_version > version:  # edited while we were publishing
                site = await uow.replicas.site(publication.site_id)
                settings = await uow.settings.get(publication.site_id)
                if site is not None:
                    await schedule(
                        uow,
                        publication,
                        site,
                        settings,
                        "worker",
                        f"content version {publication.content_version} arrived meanwhile",
                        now,
                        at=now,
                    )
            await uow.publications.save(publication)
            await uow.commit()
        done = Published(publication.content_id, publication.site_id, remote.url)
        if after is None:
            await self.propose_inbound([done])
        else:
            after.append(done)
        return publication.status

    async def propose_inbound(self, published: Sequence[Published]) -> None:
        """Inbound link proposals for articles just published, one unit per site (after the
        publishes' commits, in a unit of their own: proposals never undo a publish)."""
        by_site: dict[uuid.UUID, list[Published]] = {}
        for item in published:
            if item.url:
                by_site.setdefault(item.site_id, []).append(item)
        for site_id, items in by_site.items():
            try:
                async with self.uow_factory() as uow:
                    found = await uow.articles.get_many([i.content_id for i in items])
                    targets = [(found[i.content_id], i.url) for i in items if i.content_id in found]
                    settings = await uow.settings.get(site_id)
                    await propose_inbound_many(uow, targets, settings, self.clock.now())
                    await uow.commit()
            except Exception as exc:  # a suggestion that cannot be made is only a lost one
                log.warning("inbound link proposals failed", site_id=str(site_id), error=repr(exc))

    async def _failed(self, publication_id: uuid.UUID, failure: DestinationFailure) -> Status:
        now = self.clock.now()
        async with self.uow_factory() as uow:
            publication = await uow.publications.get(publication_id, lock=True)
            assert publication is not None
            publication.attempts += 1
            publication.lease_until = None
            publication.last_error = f"{failure.reason}: {failure.detail}"[:2000]
            if failure.permanent or publication.attempts >= self.policy.max_attempts:
                publication.move(Status.FAILED, "worker", publication.last_error, now)
                await emit(
                    uow,
                    publication,
                    "failed",
                    failure.reason,
                    failure.detail,
                    permanent=failure.permanent,
                )
            else:
                wait = failure.retry_after
                if wait is None:
                    wait = min(
                        self.policy.max_backoff_s,
                        self.policy.backoff_s * 2 ** (publication.attempts - 1),
                    ) * random.uniform(0.5, 1.0)
                publication.schedule(
                    now + timedelta(seconds=wait),
                    "worker",
                    f"retry {publication.attempts} in {wait:.0f}s: {publication.last_error}",
                    now,
                )
            await uow.publications.save(publication)
            await uow.commit()
            return publication.status


def _categories(settings: dict[str, object]) -> list[object]:
    found = settings.get("categories") or settings.get("default_category") or []
    return found if isinstance(found, list) else [found]
