"""Ports of the publishing service: what the use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from igny8.ai import AIUsage
from igny8.credit_saga import HoldBook
from igny8.uow import UnitOfWork as BaseUnitOfWork
from publishing.domain.linker import Candidate, Injected
from publishing.domain.model import (
    Article,
    Integration,
    Publication,
    Site,
    Status,
    Suggestion,
)
from publishing.domain.settings import SiteSettings


class Clock(Protocol):
    def now(self) -> datetime: ...


class Replicas(Protocol):
    """Local copies of integration's sites, integrations and inventory."""

    async def site(self, site_id: uuid.UUID) -> Site | None: ...

    async def integration(self, integration_id: uuid.UUID) -> Integration | None: ...

    async def integrations_of(self, site_id: uuid.UUID) -> list[Integration]: ...

    async def inventory_candidates(self, site_id: uuid.UUID, limit: int) -> list[Candidate]:
        """The site's synced posts/pages/articles, as link candidates."""


class Articles(Protocol):
    async def get(self, content_id: uuid.UUID, lock: bool = False) -> Article | None: ...

    async def get_many(self, content_ids: list[uuid.UUID]) -> dict[uuid.UUID, Article]: ...

    async def save(self, article: Article) -> None: ...

    async def published_candidates(
        self, site_id: uuid.UUID, exclude: uuid.UUID, limit: int
    ) -> list[Candidate]:
        """This platform's earlier articles of the site that have a published URL."""

    async def published(
        self, site_id: uuid.UUID, exclude: uuid.UUID | None, limit: int
    ) -> list[Article]:
        """This platform's other articles of the site that are published somewhere."""


class Publications(Protocol):
    async def get(self, publication_id: uuid.UUID, lock: bool = False) -> Publication | None: ...

    async def for_article(self, content_id: uuid.UUID) -> list[Publication]: ...

    async def of_site(
        self, site_id: uuid.UUID, statuses: frozenset[Status]
    ) -> list[Publication]: ...

    async def of_integration(
        self, integration_id: uuid.UUID, statuses: frozenset[Status]
    ) -> list[Publication]: ...

    async def add(self, publication: Publication) -> None: ...

    async def save(self, publication: Publication) -> None:
        """Persist its columns and its new transitions (append-only)."""

    async def latest_scheduled(self, integration_id: uuid.UUID) -> datetime | None: ...

    async def count_scheduled(self, site_id: uuid.UUID) -> int: ...

    async def released_between(
        self, integration_id: uuid.UUID, start: datetime, end: datetime
    ) -> int:
        """Publications of the destination moved to `publishing` in [start, end)."""

    async def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Scheduled ones due, and publishing ones whose worker's lease ran out (locked)."""

    async def held_for_queue(self, limit: int) -> list[uuid.UUID]: ...


class Links(Protocol):
    async def add(self, article: Article, links: list[Injected], now: datetime) -> None: ...

    async def get(self, link_id: uuid.UUID) -> dict[str, Any] | None: ...

    async def mark(self, link_ids: list[uuid.UUID], status: str, now: datetime) -> None: ...

    async def active_of(self, content_id: uuid.UUID) -> list[dict[str, Any]]: ...

    async def propose_many(self, suggestions: list[Suggestion]) -> list[uuid.UUID]:
        """Store inbound link suggestions (one statement) except source → target pairs that
        exist already; returns the ids of those stored."""

    async def suggestion(self, suggestion_id: uuid.UUID) -> dict[str, Any] | None: ...

    async def decide(
        self,
        suggestion_id: uuid.UUID,
        status: str,
        by: str,
        now: datetime,
        link_id: uuid.UUID | None = None,
    ) -> None: ...


class SettingsRepository(Protocol):
    async def get(self, site_id: uuid.UUID) -> SiteSettings: ...

    async def put(
        self, account_id: uuid.UUID, site_id: uuid.UUID, settings: SiteSettings
    ) -> None: ...


class Optimizations(Protocol):
    async def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Insert it unless a live or successful one exists for that article version (then that
        one, with `created` False)."""

    async def get(
        self, optimization_id: uuid.UUID, lock: bool = False
    ) -> dict[str, Any] | None: ...

    async def of_article(self, content_id: uuid.UUID) -> list[dict[str, Any]]: ...

    async def update(self, optimization_id: uuid.UUID, **values: Any) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[uuid.UUID]: ...

    async def unanswered(self, before: datetime, limit: int) -> list[uuid.UUID]: ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """One transaction over publishing's repositories (`igny8.uow`: commit, rollback, emit)."""

    @property
    def replicas(self) -> Replicas: ...

    @property
    def articles(self) -> Articles: ...

    @property
    def publications(self) -> Publications: ...

    @property
    def links(self) -> Links: ...

    @property
    def settings(self) -> SettingsRepository: ...

    @property
    def optimizations(self) -> Optimizations: ...

    @property
    def holds(self) -> HoldBook:
        """The optimizations' credit holds."""


# -- destinations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageFile:
    url: str
    alt: str
    kind: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Post:
    """What a destination publishes: the article as this publication brings it."""

    publication_id: uuid.UUID
    slug: str
    title: str
    html: str
    seo_title: str
    seo_description: str
    tags: tuple[str, ...]
    categories: tuple[str, ...]
    status: Literal["draft", "publish", "future"]
    publish_at: datetime | None
    images: tuple[ImageFile, ...] = ()
    keyphrase: str = ""


@dataclass(frozen=True)
class RemotePost:
    remote_id: str
    url: str
    modified: str | None = None


@dataclass(frozen=True)
class Target:
    """Where to publish: the integration and its credentials (never stored, never logged)."""

    integration: Integration
    credentials: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Known:
    """What we know about the remote post before this attempt."""

    remote_id: str | None
    remote_modified: str | None
    outcome_unknown: bool
    earlier_attempts: bool = False
    """An earlier attempt (failed, taken over, or an earlier publish of this publication) may
    have uploaded this publication's images already: a destination reuses them."""


@dataclass(frozen=True)
class Hooks:
    before_create: Callable[[], Awaitable[None]]
    """Durably records that a create is about to be sent (its outcome may then be unknown)."""
    created: Callable[[RemotePost], Awaitable[None]]
    """Durably records the remote id the moment a create returns."""


class Destination(Protocol):
    async def publish(self, target: Target, post: Post, known: Known, hooks: Hooks) -> RemotePost:
        """Create or update the remote post. Raises DestinationFailure; RemoteEdited-style
        refusals are permanent failures with reason `remote_edited`."""

    async def unpublish(self, target: Target, remote_id: str) -> RemotePost | None:
        """Take the post down; returns its state after our write (None when it is gone)."""


class Destinations(Protocol):
    def for_platform(self, platform: str) -> Destination: ...


class CredentialSource(Protocol):
    async def credentials(
        self, account_id: uuid.UUID, integration_id: uuid.UUID
    ) -> dict[str, str]: ...

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        """The destination refused these credentials: drop them if kept from an earlier call
        (rotated meanwhile); whether asking again may give others (False: they were just
        fetched, so the refusal is final)."""


class ImageSource(Protocol):
    async def fetch(self, account_id: uuid.UUID, url: str) -> tuple[bytes, str]:
        """The image bytes and content type."""


class Optimizer(Protocol):
    """The AI optimizer's model call (issue 10 §2): a schema-valid answer and what it used.
    Raises `igny8.ai.AIError` (never charged)."""

    async def propose(self, messages: list[dict[str, str]]) -> tuple[dict[str, Any], AIUsage]: ...
