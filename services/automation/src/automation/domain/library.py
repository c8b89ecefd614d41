"""The site's planner/writer library: the statuses of its rows and the rows each stage works on.

Statuses are those the database's check constraints allow; a stage reads its work as the frozen
rows below (what it needs, nothing more)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict


class KeywordStatus(StrEnum):
    NEW = "new"
    """Waiting for stage 1."""
    CLUSTERED = "clustered"
    USED = "used"
    ARCHIVED = "archived"
    """The model left it out of every cluster (or a person archived it)."""


class ClusterStatus(StrEnum):
    NEW = "new"
    """Waiting for stage 2."""
    PLANNED = "planned"
    ARCHIVED = "archived"


class IdeaStatus(StrEnum):
    NEW = "new"
    """Waiting for stage 3 (or plannable again after its task was deleted)."""
    QUEUED = "queued"
    ARCHIVED = "archived"


class TaskStatus(StrEnum):
    PENDING = "pending"
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"


WRITABLE = (TaskStatus.PENDING, TaskStatus.GENERATING)
"""Tasks stage 4 still has to write."""


class ContentStatus(StrEnum):
    DRAFT = "draft"
    """Not ready for publishing (a person set it back)."""
    READY = "ready"
    APPROVED = "approved"
    PUBLISHED = "published"
    """Live on at least one destination (publishing said so)."""


class LibraryKind(StrEnum):
    """The library's lists (the HTTP paths' names)."""

    KEYWORDS = "keywords"
    CLUSTERS = "clusters"
    IDEAS = "ideas"
    TASKS = "tasks"
    CONTENT = "content"
    IMAGES = "images"


class ItemEdit(TypedDict, total=False):
    """What a person may change of a library row (each kind allows a subset: the HTTP patch
    models say which); a field left out keeps its value."""

    status: str
    name: str
    description: str
    primary_keyword: str
    title: str
    brief: str
    outline: list[str]
    target_keywords: list[str]
    html: str
    meta_title: str
    meta_description: str
    slug: str
    volume: int
    difficulty: int
    intent: str


@dataclass(frozen=True)
class LibraryItem:
    """A library row as its delete policy needs it: its id and the rows it hangs off."""

    kind: LibraryKind
    item_id: uuid.UUID
    idea_id: uuid.UUID | None = None
    """A task's idea."""
    task_id: uuid.UUID | None = None
    """An article's task."""


@dataclass(frozen=True)
class ArticleImage:
    """An image drawn for an article (what `content.ready` tells publishing of it)."""

    image_id: uuid.UUID
    kind: str
    position: int
    alt: str


@dataclass(frozen=True)
class StoredArticle:
    """An article as stored, with its images when the reader asked for them."""

    content_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    task_id: uuid.UUID
    run_id: uuid.UUID | None
    title: str
    html: str
    meta_title: str
    meta_description: str
    slug: str
    keywords: tuple[str, ...]
    status: ContentStatus
    version: int
    images: tuple[ArticleImage, ...] = ()


@dataclass(frozen=True)
class Site:
    """The newest `site.*` snapshot integration sent (automation's local copy)."""

    site_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    url: str
    sector: str = ""
    niche: str = ""
    language: str = "en"


@dataclass(frozen=True)
class ScheduledSite:
    """A site whose config has a schedule, and the last occurrence the scheduler handled."""

    site_id: uuid.UUID
    account_id: uuid.UUID
    config: Mapping[str, object]
    """As stored: validated by the scheduler (a config saved under older rules is skipped)."""
    last_occurrence: datetime | None


@dataclass(frozen=True)
class NewKeyword:
    keyword_id: uuid.UUID
    keyword: str


@dataclass(frozen=True)
class ClusterToPlan:
    cluster_id: uuid.UUID
    name: str


@dataclass(frozen=True)
class TaskBrief:
    """A task with its idea's brief: what stage 4 writes from."""

    task_id: uuid.UUID
    idea_id: uuid.UUID
    title: str
    brief: str
    outline: tuple[str, ...]
    target_keywords: tuple[str, ...]
    structure: str


@dataclass(frozen=True)
class ContentToIllustrate:
    content_id: uuid.UUID
    title: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class ImagePrompt:
    prompt_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    content_id: uuid.UUID
    kind: str
    """`featured` or `inline`."""
    position: int
    prompt: str
    alt: str


@dataclass(frozen=True)
class Publication:
    """What publishing last said about one publication of an article (one destination)."""

    publication_id: uuid.UUID
    content_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    status: str
    """Publishing's publication status (`completed`, `unpublished`, …)."""
    content_version: int
    remote_id: str | None
    url: str | None
