"""An article edited by a person. An edit of what a reader sees gives the article a new version and
emits `content.ready` with it, so publishing updates what it already published (issue 10). The
edit is saved only if that message still fits (issue 9 §2.4 — an oversized message could never be
published nor dead-lettered, so it is refused at the API as a 413 instead)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from automation.domain.errors import NotFound, TooLarge
from automation.domain.library import (
    ArticleImage,
    ContentStatus,
    ItemEdit,
    LibraryKind,
    StoredArticle,
)
from automation.ports import UnitOfWork
from igny8.contracts import MAX_MESSAGE_BYTES, TOPICS
from igny8.contracts.runs import ContentImage, ContentReady

ImageUrl = Callable[[uuid.UUID], str]
PUBLISHED_FIELDS = frozenset({"title", "html", "meta_title", "meta_description", "slug"})
"""What a reader of the published article sees: editing any of it makes a new version."""


def content_ready(
    content: StoredArticle,
    images: Sequence[ArticleImage],
    image_url: ImageUrl,
    auto_publish: bool,
    run_id: uuid.UUID | None,
) -> ContentReady:
    return ContentReady(
        version=content.version,
        content_id=content.content_id,
        site_id=content.site_id,
        run_id=run_id,
        title=content.title,
        html=content.html,
        meta_title=content.meta_title,
        meta_description=content.meta_description,
        slug=content.slug,
        keywords=list(content.keywords),
        auto_publish=auto_publish,
        images=[ContentImage(url=image_url(i.image_id), alt=i.alt, kind=i.kind) for i in images],
    )


def message_bytes(message: ContentReady, account_id: uuid.UUID, site_id: uuid.UUID) -> int:
    """The size of the envelope the outbox would store, measured the way the outbox does."""
    envelope = TOPICS.envelope(
        "content.ready", message, source="automation", account_id=account_id, site_id=site_id
    )
    return len(envelope.to_bytes())


async def edit_content(
    uow: UnitOfWork,
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    content_id: uuid.UUID,
    changes: ItemEdit,
    image_url: ImageUrl,
    auto_publish: bool,
) -> StoredArticle:
    """Apply `changes` in the caller's unit of work (not committed here); the edited article."""
    if not await uow.library.update_item(
        LibraryKind.CONTENT, account_id, site_id, content_id, changes
    ):
        raise NotFound("content item not found")
    republish = bool(PUBLISHED_FIELDS & changes.keys())
    if republish:
        await uow.published.next_version(content_id)
    found = await uow.library.article(account_id, site_id, content_id)
    assert found is not None
    images = await uow.planner.images_of_content(content_id)
    message = content_ready(found, images, image_url, auto_publish, found.run_id)
    size = message_bytes(message, account_id, site_id)
    if size >= MAX_MESSAGE_BYTES:
        raise TooLarge(
            f"the edited article would make a {size}-byte content.ready message; "
            f"the limit is {MAX_MESSAGE_BYTES} bytes (shorten the HTML or move media to images)"
        )
    if republish and found.status is not ContentStatus.DRAFT:  # a draft is not ready for publishing
        await uow.emit("content.ready", message, account_id, site_id)
    return found
