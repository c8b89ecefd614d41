"""Publications: one article x one destination, a state machine whose every move is recorded.

States (issue 10 §1): `pending_approval → scheduled → publishing → published | failed`, plus
`cancelled` and `unpublished`. A published article whose content changes is scheduled again
(re-publish); a failed one may be retried.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from publishing.domain.errors import InvalidTransition


class Status(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNPUBLISHED = "unpublished"


S = Status
#: from → the states it may move to
ALLOWED: dict[Status, frozenset[Status]] = {
    S.PENDING_APPROVAL: frozenset({S.SCHEDULED, S.CANCELLED, S.PENDING_APPROVAL}),
    S.SCHEDULED: frozenset({S.PUBLISHING, S.PENDING_APPROVAL, S.CANCELLED, S.SCHEDULED}),
    # `publishing → scheduled` is a retry after a transient failure; `publishing → publishing`
    # a takeover from a worker whose lease ran out.
    S.PUBLISHING: frozenset({S.PUBLISHED, S.FAILED, S.SCHEDULED, S.PUBLISHING}),
    S.PUBLISHED: frozenset({S.SCHEDULED, S.PENDING_APPROVAL, S.UNPUBLISHED, S.FAILED}),
    S.FAILED: frozenset({S.SCHEDULED, S.PENDING_APPROVAL, S.CANCELLED}),
    S.CANCELLED: frozenset({S.SCHEDULED, S.PENDING_APPROVAL}),
    S.UNPUBLISHED: frozenset({S.SCHEDULED, S.PENDING_APPROVAL}),
}
#: states whose publication still waits to reach a site (cancelled by a site's deletion)
OPEN = frozenset({S.PENDING_APPROVAL, S.SCHEDULED})


@dataclass(frozen=True)
class Transition:
    from_status: Status | None
    to_status: Status
    actor: str
    """`user:<id>`, `rule:<name>`, `system`, `scheduler`, `worker`."""
    reason: str
    at: datetime


@dataclass
class Publication:
    publication_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    content_id: uuid.UUID
    integration_id: uuid.UUID
    platform: str
    slug: str
    """Deterministic per publication: the remote slug/handle/file name, used for lookups."""
    status: Status
    content_version: int
    """The article version this publication is to bring (or brought) to the site."""
    created_at: datetime
    updated_at: datetime
    published_version: int | None = None
    score: int | None = None
    hold_reason: str | None = None
    scheduled_for: datetime | None = None
    attempts: int = 0
    remote_id: str | None = None
    remote_url: str | None = None
    remote_modified: str | None = None
    """The remote post's modification stamp after our last write (never clobber a newer one)."""
    create_started_at: datetime | None = None
    """Set before a remote create; with no remote_id it means the create's outcome is unknown."""
    lease_until: datetime | None = None
    last_error: str | None = None
    published_at: datetime | None = None
    transitions: list[Transition] = field(default_factory=list)

    def move(self, to: Status, actor: str, reason: str, now: datetime) -> None:
        if to not in ALLOWED[self.status]:
            raise InvalidTransition(f"a {self.status.value} publication cannot become {to.value}")
        self.transitions.append(Transition(self.status, to, actor, reason, now))
        self.status = to
        self.updated_at = now

    def schedule(self, when: datetime, actor: str, reason: str, now: datetime) -> None:
        self.move(Status.SCHEDULED, actor, reason, now)
        self.scheduled_for = when
        self.hold_reason = None

    def hold(self, reason: str, actor: str, now: datetime, why: str | None = None) -> None:
        """Wait for approval (or room in the queue); `reason` is what the API shows."""
        self.move(Status.PENDING_APPROVAL, actor, why or reason, now)
        self.hold_reason = reason
        self.scheduled_for = None

    @classmethod
    def create(
        cls,
        *,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        content_id: uuid.UUID,
        integration_id: uuid.UUID,
        platform: str,
        slug: str,
        content_version: int,
        score: int,
        hold_reason: str,
        actor: str,
        now: datetime,
    ) -> Publication:
        """A new publication waits for approval until a decision schedules it."""
        publication = cls(
            publication_id=uuid.uuid4(),
            account_id=account_id,
            site_id=site_id,
            content_id=content_id,
            integration_id=integration_id,
            platform=platform,
            slug=slug,
            status=Status.PENDING_APPROVAL,
            content_version=content_version,
            created_at=now,
            updated_at=now,
            score=score,
            hold_reason=hold_reason,
        )
        publication.transitions.append(
            Transition(None, Status.PENDING_APPROVAL, actor, hold_reason, now)
        )
        return publication

    @property
    def outcome_unknown(self) -> bool:
        """A create was sent and its answer never stored: look the post up before creating."""
        return self.remote_id is None and self.create_started_at is not None


def publication_slug(article_slug: str) -> str:
    """The deterministic slug of an article on every destination (the remote slug, handle or file
    name), so a lookup after an unknown create outcome finds the post."""
    safe = "".join(c if c.isalnum() else "-" for c in article_slug.lower()).strip("-")
    while "--" in safe:
        safe = safe.replace("--", "-")
    return safe[:190] or "article"


@dataclass(frozen=True)
class Image:
    url: str
    alt: str
    kind: str
    """`featured` or `inline` (automation's image kinds)."""


@dataclass
class Article:
    """The newest version of an article automation announced, with its analysis and links."""

    content_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    version: int
    title: str
    html: str
    """The HTML as received (canonicalized)."""
    linked_html: str
    """The HTML with the injected internal links: what is published."""
    meta_title: str
    meta_description: str
    slug: str
    keywords: list[str]
    images: list[Image]
    auto_publish: bool
    run_id: uuid.UUID | None = None
    score: int = 0
    report: dict[str, object] = field(default_factory=dict)

    @property
    def keyphrase(self) -> str:
        return self.keywords[0] if self.keywords else ""


@dataclass(frozen=True)
class Site:
    site_id: uuid.UUID
    account_id: uuid.UUID
    deleted: bool
    name: str
    url: str
    timezone: str


@dataclass(frozen=True)
class Integration:
    integration_id: uuid.UUID
    site_id: uuid.UUID
    account_id: uuid.UUID
    deleted: bool
    platform: str
    base_url: str
    settings: dict[str, object]
    is_active: bool

    @property
    def usable(self) -> bool:
        return self.is_active and not self.deleted


@dataclass(frozen=True)
class Suggestion:
    """An inbound link proposed to a newly published article (target) from an earlier one
    (source): where it would go and how relevant it is."""

    suggestion_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    source_content_id: uuid.UUID
    target_content_id: uuid.UUID
    target_url: str
    anchor: str
    similarity: float
    created_at: datetime
