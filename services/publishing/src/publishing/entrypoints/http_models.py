"""Response models of publishing's HTTP API, for its OpenAPI document (and so the gateway's).

The routes answer the read side's dicts as they are (times as `+00:00`, which a model would
rewrite as `Z`), so these are documentation: `responses={200: {"model": …}}`, never
`response_model`. Row models come from the columns the queries select, so a column added there
shows in the document; publishing's HTTP tests validate real answers against each model."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from igny8.webapi.row_models import row_model
from publishing.adapters.sqlalchemy_queries import (
    HTML_COLUMNS,
    PUBLIC_COLUMNS,
    REPORT_COLUMNS,
    TRANSITION_COLUMNS,
)
from publishing.adapters.sqlalchemy_tables import link_suggestions, links

Status = Literal[
    "pending_approval", "scheduled", "publishing", "published", "failed", "cancelled", "unpublished"
]

Publication = row_model("Publication", PUBLIC_COLUMNS)
Transition = row_model("Transition", TRANSITION_COLUMNS)
ArticleReport = row_model("ArticleReport", REPORT_COLUMNS, doc="An article's score and checks.")
ArticleHtml = row_model(
    "ArticleHtml", HTML_COLUMNS, doc="An article's HTML, as written and linked."
)
Link = row_model("Link", links)
LinkSuggestion = row_model("LinkSuggestion", link_suggestions)


class PublicationState(BaseModel):
    """A publication as an action leaves it."""

    publication_id: uuid.UUID
    content_id: uuid.UUID
    integration_id: uuid.UUID
    platform: str
    status: Status
    content_version: int
    scheduled_for: datetime | None
    hold_reason: str | None
    remote_id: str | None
    remote_url: str | None
    score: int | None


class PublicationDetail(Publication):  # type: ignore[misc, valid-type]
    """A publication with its history, oldest transition first."""

    transitions: list[Transition]  # type: ignore[valid-type]


class PublicationPage(BaseModel):
    items: list[Publication]  # type: ignore[valid-type]
    limit: int
    offset: int


class LinkList(BaseModel):
    items: list[Link]  # type: ignore[valid-type]


class SuggestionList(BaseModel):
    items: list[LinkSuggestion]  # type: ignore[valid-type]


class LinkUndone(BaseModel):
    link_id: uuid.UUID
    status: Literal["undone"]
    linked_html: str


class SuggestionDecided(BaseModel):
    suggestion_id: uuid.UUID
    status: Literal["accepted", "rejected"]
    link_id: uuid.UUID | None = None
    """The link an accepted suggestion made."""


class GraphPage(BaseModel):
    url: str
    title: str
    content_id: uuid.UUID | None
    """This platform's article behind the page; null for a page synced from the site."""
    inbound: int
    outbound: int


class LinkGraph(BaseModel):
    pages: list[GraphPage]
    links: int
    orphans: list[str]
    """Pages no active link points to."""
    coverage: float


class Optimization(BaseModel):
    """What the API shows of an optimization (`app.optimize.view`)."""

    optimization_id: uuid.UUID
    content_id: uuid.UUID
    article_version: int
    status: str
    checks: Any
    quantity: int
    score_before: int
    score_after: int | None
    kept: bool | None
    diff: Any
    credits: int
    reason: str | None
    detail: str | None
    requested_by: str
    created_at: datetime | None
    updated_at: datetime | None


class Optimizations(BaseModel):
    items: list[Optimization]


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """A route's arguments: FastAPI documents `model` for 200 and validates nothing."""
    return {"response_model": None, "responses": {200: {"model": model}}}
