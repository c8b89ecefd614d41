"""Domain-side commands the entrypoints translate wire messages and requests into."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from publishing.domain.model import Image


@dataclass(frozen=True)
class ContentArrived:
    account_id: uuid.UUID
    content_id: uuid.UUID
    site_id: uuid.UUID
    run_id: uuid.UUID | None
    version: int
    title: str
    html: str
    meta_title: str
    meta_description: str
    slug: str
    keywords: tuple[str, ...]
    images: tuple[Image, ...]
    auto_publish: bool
