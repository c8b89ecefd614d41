"""Publishing's outcomes applied to our articles: `published` with its URL while any destination
has the article, `ready` again once none has it (publication.completed / unpublished)."""

from __future__ import annotations

import uuid

from automation.domain.library import ContentStatus, LibraryKind, Publication
from automation.ports import UnitOfWork
from igny8.contracts.publications import PublicationChanged


async def apply_publication(
    uow: UnitOfWork, account_id: uuid.UUID | None, event: PublicationChanged
) -> ContentStatus | None:
    """The article's status afterwards; None when the article is not this account's (ignored:
    the event's tenant must own the article) or no longer exists."""
    if account_id is None:
        return None
    article = await uow.library.get_item(
        LibraryKind.CONTENT, account_id, event.site_id, event.content_id
    )
    if article is None:
        return None
    await uow.published.record(
        Publication(
            publication_id=event.publication_id,
            content_id=event.content_id,
            account_id=account_id,
            site_id=event.site_id,
            status=event.status,
            content_version=event.content_version,
            remote_id=event.remote_id,
            url=event.url,
        )
    )
    return await uow.published.refresh_status(event.content_id)
