"""Payloads of integration's entity events (DESIGN §3, §6): full snapshots with a growing version.

Consumers keep the highest version they have seen, so arrival order does not matter; deletion is a
snapshot with `deleted: true`. Credentials never travel on the bus.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AnyHttpUrl, AwareDatetime, BaseModel, ConfigDict, Field

Platform = Literal["wordpress", "shopify", "static"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteSnapshot(_Payload):
    site_id: uuid.UUID
    account_id: uuid.UUID
    version: int = Field(ge=1)
    deleted: bool = False
    name: str
    url: AnyHttpUrl
    sector: str = ""
    niche: str = ""
    language: str = "en"
    timezone: str = "UTC"


class IntegrationSnapshot(_Payload):
    integration_id: uuid.UUID
    site_id: uuid.UUID
    account_id: uuid.UUID
    version: int = Field(ge=1)
    deleted: bool = False
    platform: Platform
    base_url: str
    settings: dict[str, Any] = Field(default_factory=dict)
    is_active: bool = True
    sync_enabled: bool = True
    sync_status: str = "never"
    last_error: str | None = None
    health_score: int = Field(default=100, ge=0, le=100)
    has_credentials: bool = False


class InventoryItem(_Payload):
    kind: Literal["category", "tag", "post", "page", "article", "blog", "file"]
    remote_id: str = Field(max_length=200)
    title: str = ""
    url: str = ""
    excerpt: str = ""
    modified_at: AwareDatetime | None = None
    change: Literal["upsert", "delete"] = "upsert"


class SiteSynced(_Payload):
    """One page (at most 100 items) of the inventory delta a sync found."""

    site_id: uuid.UUID
    integration_id: uuid.UUID
    sync_id: uuid.UUID
    page: int = Field(ge=1)
    pages: int = Field(ge=1)
    items: list[InventoryItem] = Field(max_length=100)
