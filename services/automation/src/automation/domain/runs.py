"""Automation runs: states, stages, estimates and the cost ceiling of one item (DESIGN §4-§5)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from automation.domain.config import AutomationConfig


class RunStatus(StrEnum):
    """The run's state machine (see `TRANSITIONS`)."""

    QUEUED = "queued"
    """Waiting for a free run slot (`domain.scheduling`); live, so the site stays taken."""
    RESERVING = "reserving"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHING = "finishing"
    """Ended in intent (`ending`), waiting for billing to answer every capture before the holds
    are released; still live, so the site stays taken."""
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    REJECTED = "rejected"


R = RunStatus
LIVE = (R.QUEUED, R.RESERVING, R.RUNNING, R.PAUSED, R.FINISHING)
ENDED = (R.COMPLETED, R.CANCELLED, R.FAILED, R.REJECTED)
DRIVEN = (R.RESERVING, R.RUNNING, R.FINISHING)
"""A worker holds the lease of a run in these states."""

TRANSITIONS: dict[RunStatus, tuple[RunStatus, ...]] = {
    R.QUEUED: (R.RESERVING, R.RUNNING, R.PAUSED, R.FINISHING, R.CANCELLED),
    R.RESERVING: (R.RUNNING, R.PAUSED, R.FINISHING, R.CANCELLED),
    R.RUNNING: (R.QUEUED, R.PAUSED, R.FINISHING, R.CANCELLED),
    R.PAUSED: (R.RUNNING, R.RESERVING, R.FINISHING, R.CANCELLED),
    R.FINISHING: (R.COMPLETED, R.CANCELLED, R.FAILED, R.REJECTED),
}
"""Every allowed status change; each is a compare-and-set on the expected state. A driven run
ends through `finishing`; `→ cancelled` directly is the cancel of a run nobody drives whose
captures are all answered. `running → queued` is a run giving its slot back to another account
(`domain.scheduling.yields`); it is admitted again as `running` (its holds and checkpoints kept),
and cancelled from `queued` through `finishing` when captures are unanswered."""


def allowed(expected: tuple[str, ...], status: str) -> bool:
    return all(status in TRANSITIONS.get(RunStatus(e), ()) for e in expected)


class ItemStatus(StrEnum):
    """A run item's checkpoint (`run_items`): a done item is never redone or charged again."""

    DONE = "done"
    FAILED = "failed"
    """Not charged; a later run tries it again."""
    SKIPPED = "skipped"
    """Nothing to do any more (its input was deleted meanwhile)."""


SETTLED = (ItemStatus.DONE, ItemStatus.FAILED, ItemStatus.SKIPPED)


class ItemDetail(TypedDict, total=False):
    """What a checkpoint records of its item (stored as JSON, shown in the run's log views)."""

    clusters: int
    keywords: int
    ideas: int
    tasks: int
    prompts: int
    content_id: str
    words: int
    regenerated: bool
    image: str
    """The image's storage key."""
    reason: str
    """Why the item was skipped."""
    error: str
    """A failure's type name, and below its detail."""
    detail: str


@dataclass(frozen=True)
class StageResult:
    """What one stage of a run did (stored per run and stage, shown in the run's view)."""

    done: int
    failed: int
    skipped: int
    total: int
    credits: int
    status: str = "completed"
    partial: bool = False
    """Some items failed: a later run tries them again."""
    skip_reasons: tuple[str, ...] = ()


class RunRequest(StrEnum):
    """What a caller asked the driving worker to do between items."""

    PAUSE = "pause"
    CANCEL = "cancel"
    YIELD = "yield"
    """Give the run slot back to a waiting account at the next safe point, and queue again."""


@dataclass(frozen=True)
class Run:
    """One run as stored. `config` is the site's config as it was when the run started (JSON);
    `RunContext` validates it once per drive."""

    run_id: uuid.UUID
    account_id: uuid.UUID
    site_id: uuid.UUID
    status: RunStatus
    stages: tuple[int, ...]
    config: Mapping[str, object] = field(default_factory=dict)
    fencing_token: int = 0
    requested: RunRequest | None = None
    pause_reason: str | None = None
    error: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    credits_charged: int = 0
    rejection: Mapping[str, object] | None = None
    """Billing's refusal, as `credit.rejected` said it (reason, detail, required, available)."""
    target: Mapping[str, str] | None = None
    """A regeneration: {"content_id": …, "task_id": …}."""
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ending: RunStatus | None = None
    """While `finishing`: the status the run ends in once billing answered every capture."""
    end_reason: str | None = None
    queue_position: int | None = None
    """While `queued`: how many runs are admitted before it (0: next)."""

    def driven_at(self, now: datetime) -> bool:
        """A worker holds the run's lease: it takes a request between items."""
        return self.lease_expires_at is not None and self.lease_expires_at > now


class RunChanges(TypedDict, total=False):
    """The fields a status change (`transition`) or an update may set besides the status; a
    field left out keeps its value, None clears it."""

    requested: RunRequest | None
    pause_reason: str | None
    error: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    rejection: Mapping[str, object] | None
    target: Mapping[str, str] | None
    started_at: datetime | None
    ended_at: datetime | None
    ending: RunStatus | None
    end_reason: str | None
    queue_position: int | None


STAGES = {
    1: "keywords → clusters",
    2: "clusters → ideas",
    3: "ideas → tasks",
    4: "tasks → content",
    5: "content → image prompts",
    6: "image prompts → images",
}
OPERATION = {
    1: "clustering",
    2: "idea_generation",
    4: "content_generation",
    5: "image_prompt_extraction",
    6: "image_generation",
}
KEYWORDS_PER_CLUSTER_GUESS = 5
TOKENS_PER_TARGET_WORD = 2.0
"""Output tokens allowed per word of the article's ceiling: an English word is ~1.3 tokens and the
HTML markup and the JSON fields around it need nearly as much again, so truncation stays rare."""


class LeaseLost(Exception):
    """Another worker took the run over, or the run left the state the writer expected: a stale
    or late writer must stop without writing."""


def content_token_limit(config: AutomationConfig) -> int:
    """The model's output token limit for one article, set from the target word count."""
    return math.ceil(config.target_word_count * config.word_limit_factor * TOKENS_PER_TARGET_WORD)


def item_quantity_ceiling(stage: int, config: AutomationConfig) -> int:
    """The most one item of a stage can be charged for, in the operation's natural measure. An
    article cannot have more words than its token limit has tokens, so that limit is its
    ceiling: the hold covers it and the charge is the words actually delivered."""
    if stage == 2:
        return config.ideas_per_cluster
    if stage == 4:
        return content_token_limit(config)
    return 1


def estimate(
    counts: dict[str, int],
    config: AutomationConfig,
    stages: list[int],
    target: dict[str, str] | None = None,
) -> dict[str, int]:
    """Quantities per operation for the work in sight, with the configured buffer, rounded up."""
    if target is not None:  # regenerating one article: its own ceiling only
        return {
            "content_generation": math.ceil(
                item_quantity_ceiling(4, config) * (1 + config.estimate_buffer)
            )
        }

    def cap(stage: int, n: int) -> int:
        limit = config.max_items_per_stage.get(stage)
        return min(n, limit) if limit is not None else n

    new_keywords = cap(1, counts.get("keywords", 0)) if 1 in stages else 0
    requests = math.ceil(new_keywords / config.batch(1)) if new_keywords else 0
    clusters = cap(
        2, counts.get("clusters", 0) + math.ceil(new_keywords / KEYWORDS_PER_CLUSTER_GUESS)
    )
    ideas = clusters * config.ideas_per_cluster if 2 in stages else 0
    tasks = cap(4, counts.get("tasks", 0) + counts.get("ideas", 0) + (ideas if 3 in stages else 0))
    articles = tasks if 4 in stages else 0
    words = articles * item_quantity_ceiling(4, config)
    prompt_items = cap(5, counts.get("contents", 0) + articles) if 5 in stages else 0
    pictures = (
        cap(6, counts.get("prompts", 0) + prompt_items * config.images_per_article)
        if 6 in stages
        else 0
    )
    buffer = 1 + config.estimate_buffer
    raw = {
        "clustering": requests if 1 in stages else 0,
        "idea_generation": ideas,
        "content_generation": words,
        "image_prompt_extraction": prompt_items,
        "image_generation": pictures,
    }
    return {op: math.ceil(q * buffer) for op, q in raw.items() if q > 0}
