"""Payloads of publishing's events (DESIGN §6) and of the inventory snapshots it consumes."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from igny8.contracts.sites import Platform


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PublicationChanged(_Payload):
    """publication.scheduled | completed | failed | unpublished (key `site_id`).

    Automation marks its content `published` from `publication.completed`; `content_version` says
    which version of the article the event is about.
    """

    publication_id: uuid.UUID
    content_id: uuid.UUID
    content_version: int = Field(ge=1)
    site_id: uuid.UUID
    integration_id: uuid.UUID
    platform: Platform
    status: Literal["scheduled", "published", "failed", "unpublished"]
    scheduled_for: AwareDatetime | None = None
    remote_id: str | None = None
    url: str | None = None
    score: int | None = Field(default=None, ge=0, le=100)
    reason: str | None = None
    detail: str = ""
    permanent: bool = False
    """On `publication.failed`: the destination refused in a way retrying never fixes (401, 403,
    404, 422, bad credentials or settings). Integration counts it against the integration's health
    score (a customer's edit, `remote_edited`, is not the integration's fault and does not)."""


class InventoryItemSnapshot(_Payload):
    """`inventory.item`: one inventory item of one integration as a versioned snapshot.

    Keyed per item (`item_id`) on a compacted topic, so a consumer that joins late rebuilds every
    site's whole inventory; deletion is a snapshot with `deleted: true`. `version` grows with every
    change of the item (integration's inventory row version).
    """

    item_id: str = Field(min_length=1, max_length=300)
    """`{integration_id}:{kind}:{remote_id}` — the message key."""
    integration_id: uuid.UUID
    site_id: uuid.UUID
    account_id: uuid.UUID
    version: int = Field(ge=1)
    deleted: bool = False
    kind: Literal["category", "tag", "post", "page", "article", "blog", "file"]
    remote_id: str = Field(max_length=200)
    title: str = ""
    url: str = ""
    excerpt: str = ""
    modified_at: AwareDatetime | None = None

    @staticmethod
    def key_for(integration_id: uuid.UUID, kind: str, remote_id: str) -> str:
        return f"{integration_id}:{kind}:{remote_id}"
