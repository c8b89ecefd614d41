"""Request and response models of automation's HTTP API: the typed contract in its OpenAPI
document (docs/openapi/automation.json).

The library's item models are derived from the tables they are read from, so a column added to a
table shows in the document (and the drift check) without a second, hand-kept copy. Numeric
bounds match the columns behind them, so an out-of-range number is a 422 naming the field, never
a database error."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from automation.adapters.sqlalchemy_queries import RUN_INTERNALS
from automation.adapters.sqlalchemy_tables import clusters, contents, ideas, images, keywords, runs
from automation.adapters.sqlalchemy_tables import tasks as tasks_table
from automation.domain.config import MAX_CREDITS, BatchSize, ItemCap, Schedule, Stage
from automation.domain.keywords import INTENTS, MAX_VOLUME
from igny8.webapi import INT32_MAX
from igny8.webapi.row_models import row_model


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


Keyword = row_model("Keyword", keywords)
Cluster = row_model("Cluster", clusters)
Idea = row_model("Idea", ideas)
Task = row_model("Task", tasks_table)
Content = row_model("Content", contents)
Image = row_model("Image", images)
ITEMS: dict[str, type[BaseModel]] = {
    "keywords": Keyword,
    "clusters": Cluster,
    "ideas": Idea,
    "tasks": Task,
    "content": Content,
    "images": Image,
}

Run = row_model("Run", runs, RUN_INTERNALS)


def page_model(kind: str, item: type[BaseModel]) -> type[BaseModel]:
    return create_model(
        f"{item.__name__}Page",
        __doc__="One page of a list, oldest first. Ask for the next with `cursor=next_cursor` "
        "while `has_more` is true (rows added meanwhile neither shift nor repeat a page); "
        "`offset=next_offset` still works for a list read by offset.",
        items=(list[item], ...),  # type: ignore[valid-type]
        limit=(int, ...),
        offset=(int, ...),
        has_more=(bool, ...),
        next_offset=(
            int | None,
            Field(
                description="The offset of the next page, if any (null on a page read by "
                "cursor: continue with `next_cursor`)."
            ),
        ),
        next_cursor=(
            str | None,
            Field(default=None, description="Pass as `cursor` for the next page, if any."),
        ),
    )


class RunPage(BaseModel):
    """The site's runs, newest first. Ask for the next page with `cursor=next_cursor` while
    `has_more` (runs started meanwhile neither shift nor repeat a page); `offset=next_offset`
    still works for a list read by offset."""

    items: list[Run]  # type: ignore[valid-type]
    limit: int
    offset: int
    has_more: bool
    next_offset: int | None = Field(
        description="The offset of the next page, if any (null on a page read by cursor)."
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page, if any."
    )


class RunDetail(Run):  # type: ignore[misc,valid-type]
    """A run with its per-stage results, its live item tally and its credit holds."""

    stage_results: dict[int, dict[str, Any]] = Field(description="By stage number.")
    progress: dict[int, dict[str, int]] = Field(description="Items done/failed by stage, live.")
    holds: list[dict[str, Any]]


class StartRun(_Body):
    stages: list[Stage] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5, 6],
        min_length=1,
        max_length=6,
        description="Stages to run (1 clusters … 6 images); default all.",
    )


class Estimate(BaseModel):
    stages: list[int]
    quantities: dict[str, int]
    quote: dict[str, Any] = Field(description="Billing's quote for these quantities.")


class RunAction(BaseModel):
    run_id: uuid.UUID
    status: str
    requested: str | None


class ClusterPatch(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    primary_keyword: str | None = Field(default=None, max_length=200)
    status: Literal["new", "planned", "archived"] | None = None


class IdeaPatch(_Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    brief: str | None = Field(default=None, max_length=5000)
    outline: list[str] | None = Field(default=None, max_length=50)
    target_keywords: list[str] | None = Field(default=None, max_length=50)
    status: Literal["new", "queued", "archived"] | None = None


class ContentPatch(_Body):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    html: str | None = Field(default=None, min_length=1)
    meta_title: str | None = Field(default=None, max_length=200)
    meta_description: str | None = Field(default=None, max_length=400)
    slug: str | None = Field(default=None, pattern="^[a-z0-9-]{1,200}$")
    status: Literal["draft", "ready"] | None = Field(
        default=None,
        description="A draft is held back from publishing; approval lives in publishing. "
        "Editing what a reader sees makes a new version and emits `content.ready`.",
    )


class TaskPatch(_Body):
    status: Literal["pending", "failed"] | None = Field(
        default=None, description="Back to pending (written again next run) or given up."
    )


class ImagePatch(_Body):
    """Images are replaced by deleting them: the next run draws the prompt again."""


EDITS: dict[str, type[BaseModel]] = {
    "clusters": ClusterPatch,
    "ideas": IdeaPatch,
    "content": ContentPatch,
    "tasks": TaskPatch,
    "images": ImagePatch,
}


class KeywordPatch(_Body):
    status: Literal["new", "clustered", "used", "archived"] | None = None
    volume: int | None = Field(default=None, ge=0, le=MAX_VOLUME)
    difficulty: int | None = Field(default=None, ge=0, le=100)
    intent: Literal[tuple(sorted(INTENTS))] | None = None  # type: ignore[valid-type]


class KeywordEdited(BaseModel):
    keyword_id: uuid.UUID
    status: str | None = None
    volume: int | None = None
    difficulty: int | None = None
    intent: str | None = None


class KeywordIn(_Body):
    """One keyword of a JSON import (a plain string is also accepted)."""

    keyword: str = Field(max_length=200)
    volume: int | None = Field(default=None, ge=0, le=INT32_MAX)
    difficulty: int | None = Field(default=None, ge=0, le=100)
    cpc: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999.99"))
    intent: Literal[tuple(sorted(INTENTS))] | None = None  # type: ignore[valid-type]
    country: str | None = Field(default=None, pattern="^[A-Za-z]{2}$")


class RowError(BaseModel):
    line: int = Field(description="The CSV line or the JSON list position (from 1).")
    reason: str


class ImportResult(BaseModel):
    imported: int
    duplicates: int
    errors: list[RowError] = Field(
        description="Rows refused, each with its line; the other rows were imported."
    )


KEYWORD_UPLOAD = {
    "requestBody": {
        "required": True,
        "description": "At most 10 MiB and 50,000 rows. A bad row is that row's error (listed "
        "in `errors` with its line), never the file's.",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "keyword,volume,difficulty,cpc,intent,country\n"
                "best compost bin,1200,35,1.20,commercial,US\n",
            },
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "array",
                            "items": {
                                "oneOf": [
                                    {"type": "string"},
                                    {"$ref": "#/components/schemas/KeywordIn"},
                                ]
                            },
                        },
                        {
                            "type": "object",
                            "properties": {
                                "keywords": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/KeywordIn"},
                                }
                            },
                            "required": ["keywords"],
                        },
                    ]
                }
            },
        },
    }
}


def document_upload_models(doc: dict[str, Any]) -> None:
    """`KEYWORD_UPLOAD` is hand-written (the body is parsed by hand, CSV or JSON), so no route
    hands `KeywordIn` to FastAPI: the document gets it here, or its `$ref` dangles."""
    doc["components"].setdefault("schemas", {})["KeywordIn"] = KeywordIn.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )


class ConfigPatch(_Body):
    """Only the fields given change (PATCH merges; `schedule` merges field by field)."""

    batch_sizes: dict[Stage, BatchSize] | None = None
    delay_within_stage_s: float | None = Field(default=None, ge=0, le=600)
    delay_between_stages_s: float | None = Field(default=None, ge=0, le=3600)
    max_items_per_stage: dict[Stage, ItemCap] | None = None
    max_credits: int | None = Field(default=None, ge=1, le=MAX_CREDITS)
    estimate_buffer: float | None = Field(default=None, ge=0, le=2)
    ideas_per_cluster: int | None = Field(default=None, ge=1, le=10)
    target_word_count: int | None = Field(default=None, ge=200, le=6000)
    word_limit_factor: float | None = Field(default=None, ge=1, le=3)
    inline_images: int | None = Field(default=None, ge=0, le=8)
    image_size: str | None = Field(default=None, pattern=r"^\d{2,4}x\d{2,4}$")
    auto_publish: bool | None = None
    schedule: dict[str, Any] | None = Field(
        default=None, description="Fields of the schedule to change; see `Schedule`."
    )


class Regenerating(BaseModel):
    run_id: uuid.UUID
    content_id: uuid.UUID
    status: str


__all__ = ["Schedule"]
