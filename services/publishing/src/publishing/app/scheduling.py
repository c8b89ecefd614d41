"""Putting a publication on the schedule (or holding it) and telling the bus."""

from __future__ import annotations

from datetime import datetime

from igny8.contracts.publications import PublicationChanged
from publishing.domain.model import Publication, Site, Status
from publishing.domain.schedule import next_time
from publishing.domain.settings import SiteSettings
from publishing.ports import UnitOfWork


async def schedule(
    uow: UnitOfWork,
    publication: Publication,
    site: Site,
    settings: SiteSettings,
    actor: str,
    reason: str,
    now: datetime,
    at: datetime | None = None,
) -> bool:
    """Schedule per the site's schedule (or at `at`); held as `queue_full` when the site's queue
    is at its limit. True when it was scheduled."""
    limit = settings.queue_limit
    if (
        publication.status != Status.SCHEDULED
        and limit is not None
        and await uow.publications.count_scheduled(site.site_id) >= limit
    ):
        if publication.status != Status.PENDING_APPROVAL or publication.hold_reason != "queue_full":
            why = f"queue_full: {limit} already scheduled ({reason})"
            publication.hold("queue_full", actor, now, why)
        return False
    if at is None:
        last = await uow.publications.latest_scheduled(publication.integration_id)
        at = next_time(settings.schedule, now, last, site.timezone)
    publication.schedule(at, actor, reason, now)
    await emit(uow, publication, "scheduled")
    return True


async def emit(
    uow: UnitOfWork,
    publication: Publication,
    verb: str,
    reason: str | None = None,
    detail: str = "",
    permanent: bool = False,
) -> None:
    status = {
        "scheduled": "scheduled",
        "completed": "published",
        "failed": "failed",
        "unpublished": "unpublished",
    }[verb]
    await uow.emit(
        f"publication.{verb}",
        PublicationChanged(
            publication_id=publication.publication_id,
            content_id=publication.content_id,
            content_version=publication.content_version,
            site_id=publication.site_id,
            integration_id=publication.integration_id,
            platform=publication.platform,
            status=status,
            scheduled_for=publication.scheduled_for if verb == "scheduled" else None,
            remote_id=publication.remote_id,
            url=publication.remote_url,
            score=publication.score,
            reason=reason,
            detail=detail[:2000],
            permanent=permanent,
        ),
        publication.account_id,
        publication.site_id,
    )
