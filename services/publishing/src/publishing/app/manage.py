"""What people do to publications through the API, and what site/integration removal cancels.

Every action loads the publication within the caller's account and site; another account's
publication is reported as missing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from publishing.app.scheduling import emit, schedule
from publishing.domain.errors import InvalidTransition, NotFound, QueueFull
from publishing.domain.model import OPEN, Publication, Site, Status
from publishing.ports import Clock, CredentialSource, Destinations, Target, UnitOfWork


async def owned(
    uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID, publication_id: uuid.UUID
) -> Publication:
    publication = await uow.publications.get(publication_id, lock=True)
    if publication is None or (publication.account_id, publication.site_id) != (
        account_id,
        site_id,
    ):
        raise NotFound("publication not found")
    return publication


async def owned_site(uow: UnitOfWork, account_id: uuid.UUID, site_id: uuid.UUID) -> Site:
    site = await uow.replicas.site(site_id)
    if site is None or site.deleted or site.account_id != account_id:
        raise NotFound("site not found")
    return site


async def approve(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    publication_id: uuid.UUID,
    user: str,
    clock: Clock,
    *,
    at: datetime | None = None,
    reason: str = "approved",
) -> Publication:
    """Approve (pending), re-publish (published, failed, unpublished, cancelled), reschedule
    (scheduled, with `at`) or publish now (`at` = now)."""
    site = await owned_site(uow, account_id, site_id)
    publication = await owned(uow, account_id, site_id, publication_id)
    if publication.status == Status.PUBLISHING:
        raise InvalidTransition("the publication is being published right now")
    settings = await uow.settings.get(site_id)
    now = clock.now()
    if not await schedule(uow, publication, site, settings, user, reason, now, at=at):
        await uow.publications.save(publication)
        raise QueueFull(f"the site's queue holds {settings.queue_limit} scheduled publications")
    await uow.publications.save(publication)
    return publication


async def reject(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    publication_id: uuid.UUID,
    user: str,
    clock: Clock,
    reason: str,
) -> Publication:
    """Reject or cancel: the publication will not go out (a published one stays published)."""
    publication = await owned(uow, account_id, site_id, publication_id)
    if publication.status not in OPEN | {Status.FAILED}:
        raise InvalidTransition(f"a {publication.status.value} publication cannot be cancelled")
    publication.move(Status.CANCELLED, user, reason, clock.now())
    publication.scheduled_for = None
    await uow.publications.save(publication)
    return publication


async def unpublish(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    publication_id: uuid.UUID,
    user: str,
    clock: Clock,
    destinations: Destinations,
    credentials: CredentialSource,
) -> Publication:
    publication = await owned(uow, account_id, site_id, publication_id)
    if publication.status != Status.PUBLISHED or publication.remote_id is None:
        raise InvalidTransition("only a published publication can be unpublished")
    integration = await uow.replicas.integration(publication.integration_id)
    if integration is None:
        raise NotFound("integration not found")
    secret = await credentials.credentials(account_id, publication.integration_id)
    after = await destinations.for_platform(publication.platform).unpublish(
        Target(integration, secret), publication.remote_id
    )
    # our own write moved the remote `modified`: remember it, or a re-publish would take it
    # for a customer's edit
    publication.remote_modified = after.modified if after else None
    publication.move(Status.UNPUBLISHED, user, "unpublished", clock.now())
    await emit(uow, publication, "unpublished")
    await uow.publications.save(publication)
    return publication


async def cancel_open(
    uow: UnitOfWork,
    clock: Clock,
    reason: str,
    *,
    site_id: uuid.UUID | None = None,
    integration_id: uuid.UUID | None = None,
) -> int:
    """A deleted site or a removed integration: its waiting publications are cancelled."""
    if site_id is not None:
        found = await uow.publications.of_site(site_id, OPEN)
    else:
        assert integration_id is not None
        found = await uow.publications.of_integration(integration_id, OPEN)
    now = clock.now()
    for publication in found:
        publication.move(Status.CANCELLED, "system", reason, now)
        publication.scheduled_for = None
        await uow.publications.save(publication)
    return len(found)
