"""Payloads of automation's events (DESIGN §5)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunChanged(_Payload):
    """run.started | rejected | paused | resumed | cancelled | completed | failed | yielded |
    readmitted. `yielded`: the run gave its run slot to a waiting account and waits `queued`
    again with its checkpoints and holds; `readmitted`: it was given a slot again and goes on
    `running` where it stopped (issue 17, ADR 0007)."""

    run_id: uuid.UUID
    site_id: uuid.UUID
    status: str
    stages: list[int]
    reason: str | None = None
    credits_charged: int = 0
    detail: dict[str, Any] = Field(default_factory=dict)


class StageChanged(_Payload):
    """stage.started | progress | completed | failed."""

    run_id: uuid.UUID
    site_id: uuid.UUID
    stage: int = Field(ge=1, le=6)
    name: str
    done: int = 0
    total: int = 0
    failed: int = 0
    skipped: int = 0
    credits: int = 0
    partial: bool = False
    reason: str | None = None
    queue_position: int | None = Field(default=None, ge=1)
    """While the run waits `queued` for a free slot (reason `queued`): its place, 1 = next."""


class GenerateImage(_Payload):
    """image.generate: one image of a run's stage 6, carrying the driving worker's fencing token."""

    run_id: uuid.UUID
    site_id: uuid.UUID
    prompt_id: uuid.UUID
    fencing_token: int = Field(ge=1)


class ContentImage(_Payload):
    url: str
    alt: str
    kind: str


class ContentReady(_Payload):
    """An article ready to publish: inline text, images as URLs, the site's auto-publish flag."""

    content_id: uuid.UUID
    site_id: uuid.UUID
    run_id: uuid.UUID | None
    title: str
    html: str
    meta_title: str
    meta_description: str
    slug: str
    keywords: list[str]
    images: list[ContentImage]
    auto_publish: bool
    version: int = Field(default=1, ge=1)
    """Grows with every edit or regeneration, so publishing can tell a newer article apart."""
