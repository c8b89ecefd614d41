"""The site's planner/writer library: the statuses of its rows and the rows each stage works on.

Statuses are those the database's check constraints allow; a stage reads its work as the frozen
rows below (what it needs, nothing more)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


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
