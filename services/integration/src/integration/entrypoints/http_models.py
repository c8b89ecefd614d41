"""Request and response models of integration's HTTP API: the typed contract in its OpenAPI
document. Lengths match the columns; offsets and limits are bounded."""

import uuid
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from integration.domain.model import Platform

HTTP_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"
"""Documents the shape (and lets a generated client or fuzzer send real URLs); the domain still
normalises and the SSRF guard still checks every address."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SiteBody(_Body):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(
        max_length=2000, pattern=HTTP_URL, description="Absolute http(s) URL of the site."
    )
    sector: str = Field(default="", max_length=200)
    niche: str = Field(default="", max_length=200)
    language: str = Field(default="en", max_length=20)
    timezone: str = Field(
        default="UTC", max_length=64, description="IANA zone name; unknown names are refused."
    )


class SitePatch(_Body):
    """Only the fields given change."""

    name: str | None = Field(default=None, max_length=200)
    url: str | None = Field(default=None, max_length=2000, pattern=HTTP_URL)
    sector: str | None = Field(default=None, max_length=200)
    niche: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=20)
    timezone: str | None = Field(default=None, max_length=64)


Settings = dict[str, Any]
SETTINGS_HELP = (
    "Platform settings (WordPress: `default_status`; static: `folder`, relative to the export "
    "root)."
)


class IntegrationBody(_Body):
    platform: Platform = Field(description="Where the site lives.")
    base_url: str = Field(max_length=2000, pattern=HTTP_URL)
    settings: Settings = Field(default_factory=dict, description=SETTINGS_HELP)
    credentials: dict[str, str] | None = Field(
        default=None,
        description="WordPress: username + application_password; Shopify: access_token. "
        "Stored encrypted; answers only show them masked.",
    )
    is_active: bool = True
    sync_enabled: bool = True


class IntegrationPatch(_Body):
    """Only the fields given change; `settings` is merged as a JSON merge patch (a key set to null
    is removed), `credentials` are replaced as a whole."""

    base_url: str | None = Field(default=None, max_length=2000, pattern=HTTP_URL)
    settings: Settings | None = Field(default=None, description=SETTINGS_HELP)
    credentials: dict[str, str] | None = None
    is_active: bool | None = None
    sync_enabled: bool | None = None


# ---------------------------------------------------------------- answers


class SiteView(BaseModel):
    site_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    url: str
    sector: str
    niche: str
    language: str
    timezone: str
    version: int


class SitePage(BaseModel):
    items: list[SiteView]
    limit: int
    offset: int
    has_more: bool


class TestView(BaseModel):
    success: bool
    reason: str
    detail: str
    checked_at: AwareDatetime | None


class IntegrationView(BaseModel):
    integration_id: uuid.UUID
    site_id: uuid.UUID
    platform: Platform
    base_url: str
    settings: Settings
    is_active: bool
    sync_enabled: bool
    sync_status: str
    last_error: str | None
    health_score: int
    version: int
    credentials: dict[str, str] | None = Field(description="Masked.")
    last_test: TestView | None
    last_synced_at: AwareDatetime | None


class IntegrationList(BaseModel):
    items: list[IntegrationView]
    has_more: bool = Field(description="Always false: a site's integrations come in one page.")


class TestResult(TestView):
    health_score: int


class SyncResult(BaseModel):
    sync_id: uuid.UUID
    success: bool
    reason: str
    detail: str
    added: int
    changed: int
    removed: int


class SyncEvent(BaseModel):
    sync_id: uuid.UUID
    kind: str
    success: bool
    reason: str
    added: int
    changed: int
    removed: int
    at: AwareDatetime


class Health(BaseModel):
    health_score: int
    sync_status: str
    last_error: str | None
    last_test: TestView | None
    recent: list[SyncEvent]


class InventoryItemView(BaseModel):
    integration_id: uuid.UUID
    kind: str
    remote_id: str
    title: str
    url: str
    excerpt: str | None
    modified_at: AwareDatetime | None


class InventoryPage(BaseModel):
    items: list[InventoryItemView]
    limit: int
    offset: int
    has_more: bool


class Credentials(BaseModel):
    integration_id: uuid.UUID
    credentials: dict[str, str]
