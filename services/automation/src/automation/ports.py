"""Ports of the automation service (Protocols the app layer depends on)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, Unpack

from automation.domain.ai import AIFunction, AIImage, AIResult
from automation.domain.config import AutomationConfig
from automation.domain.keywords import KeywordRow
from automation.domain.library import (
    ArticleImage,
    ClusterToPlan,
    ContentStatus,
    ContentToIllustrate,
    ImagePrompt,
    ItemEdit,
    LibraryItem,
    LibraryKind,
    NewKeyword,
    Publication,
    ScheduledSite,
    Site,
    StoredArticle,
    TaskBrief,
)
from automation.domain.quotes import Quote
from automation.domain.results import Article, FoundCluster, FoundIdea, FoundPrompts
from automation.domain.runs import (
    DRIVEN,
    ItemDetail,
    ItemStatus,
    Run,
    RunChanges,
    RunRequest,
    RunStatus,
    StageResult,
)
from automation.ports_run_log import RunLog as RunLog
from automation.ports_run_log import RunLogReader as RunLogReader
from automation.ports_scheduling import AIBudget as AIBudget
from automation.ports_scheduling import RunQueue as RunQueue
from automation.ports_scheduling import RunSignals as RunSignals
from igny8.credit_saga import HoldBook
from igny8.uow import UnitOfWork as BaseUnitOfWork


class AIEngine(Protocol):
    """The AI provider. Failures are typed `AIError`s; a failed call produced nothing usable."""

    async def complete(
        self,
        function: AIFunction,
        variables: Mapping[str, object],
        data: Mapping[str, object],
        max_output_tokens: int,
    ) -> AIResult:
        """Render the function's prompt template with `variables`, send `data` as the input, and
        return the schema-valid JSON answer with its token usage."""

    async def image(self, prompt: str, size: str) -> AIImage: ...

    def ensure_configured(self) -> None:
        """Raise AINotConfigured when no provider is configured (no silent fallback)."""


class RunRepository(Protocol):
    """Runs and their leases (fencing tokens), compare-and-set status changes and stage results."""

    async def create_run(self, run: Run) -> None:
        """Store a new run (its id, tenant, status, stages, config and target); a second live
        run of the site raises RunConflict."""
        ...

    async def run(self, run_id: uuid.UUID, account_id: uuid.UUID | None = None) -> Run | None: ...

    async def runs_for_site(
        self, account_id: uuid.UUID, site_id: uuid.UUID, limit: int, offset: int = 0
    ) -> list[Run]: ...

    async def live_run(self, site_id: uuid.UUID) -> Run | None: ...

    async def runs_needing_a_worker(self, now: datetime, limit: int) -> list[uuid.UUID]: ...

    async def acquire_lease(
        self, run_id: uuid.UUID, owner: str, now: datetime, ttl_s: float
    ) -> int | None: ...

    async def renew_lease(
        self, run_id: uuid.UUID, token: int, now: datetime, ttl_s: float
    ) -> bool: ...

    async def release_lease(self, run_id: uuid.UUID, token: int) -> None: ...

    async def guard(
        self,
        run_id: uuid.UUID,
        token: int,
        statuses: tuple[RunStatus, ...] = DRIVEN,
        *,
        lock: bool = True,
    ) -> Run:
        """Lock the run for this transaction; LeaseLost unless this token holds it and it is in
        one of `statuses`. `lock=False` for a read-only check (a unit that writes nothing
        needs no row lock, and a lock would queue behind the run's concurrent item commits)."""
        ...

    async def peek(self, run_id: uuid.UUID, token: int, item_key: str) -> tuple[Run, bool]:
        """`guard(..., lock=False)` and whether the item is done, in one read (writes nothing)."""
        ...

    async def transition(
        self,
        run_id: uuid.UUID,
        expected: tuple[RunStatus, ...],
        status: RunStatus,
        **values: Unpack[RunChanges],
    ) -> bool:
        """Compare-and-set from one of the `expected` states; False when the run was in none."""
        ...

    async def request(
        self, run_id: uuid.UUID, expected: tuple[RunStatus, ...], what: RunRequest
    ) -> bool: ...

    async def add_charge(self, run_id: uuid.UUID, credits: int) -> None: ...

    async def update_run(self, run_id: uuid.UUID, **values: Unpack[RunChanges]) -> None:
        """Fields other than the status (that changes by `transition` only)."""
        ...

    async def save_stage_result(
        self, run_id: uuid.UUID, stage: int, result: StageResult
    ) -> None: ...

    async def stage_results(self, run_id: uuid.UUID) -> dict[int, StageResult]: ...


class ItemCheckpoints(Protocol):
    """A run's item checkpoints (`run_items`) and which captures billing has answered."""

    async def item_state(self, run_id: uuid.UUID, item_key: str) -> ItemStatus | None: ...

    async def item_done(self, run_id: uuid.UUID, item_key: str) -> bool: ...

    async def checkpoint(
        self,
        run_id: uuid.UUID,
        item_key: str,
        stage: int,
        status: ItemStatus,
        commit_id: uuid.UUID | None = None,
        credits: int = 0,
        detail: ItemDetail | None = None,
    ) -> None: ...

    async def settle_capture(self, commit_id: uuid.UUID) -> None: ...

    async def unsettled_captures(self, run_id: uuid.UUID) -> int: ...

    async def item_states(self, run_id: uuid.UUID, keys: list[str]) -> dict[str, ItemStatus]: ...

    async def item_tally(self, run_id: uuid.UUID) -> dict[int, dict[str, int]]: ...


class PlannerRepository(Protocol):
    """What the pipeline writes: keywords, clusters, ideas, tasks, articles, prompts, images."""

    async def add_keywords(
        self, account_id: uuid.UUID, site_id: uuid.UUID, rows: list[KeywordRow]
    ) -> int: ...

    async def save_clusters(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        found: tuple[FoundCluster, ...],
        by_keyword: dict[str, uuid.UUID],
    ) -> int: ...

    async def save_ideas(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        cluster_id: uuid.UUID,
        found: tuple[FoundIdea, ...],
    ) -> int: ...

    async def create_tasks(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        idea_ids: list[uuid.UUID],
    ) -> int: ...

    async def save_content(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        run_id: uuid.UUID,
        task_id: uuid.UUID,
        article: Article,
        word_count: int,
    ) -> uuid.UUID: ...

    async def replace_content(
        self, content_id: uuid.UUID, run_id: uuid.UUID, article: Article, words: int
    ) -> None: ...

    async def save_prompts(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        content_id: uuid.UUID,
        found: FoundPrompts,
        inline_limit: int,
    ) -> int: ...

    async def save_image(
        self, prompt: ImagePrompt, storage_key: str, width: int, height: int, size: int
    ) -> uuid.UUID: ...

    async def content_html_for_update(self, content_id: uuid.UUID) -> str | None: ...

    async def set_content_html(self, content_id: uuid.UUID, html: str) -> None: ...

    async def contents_of_run(self, run_id: uuid.UUID) -> list[StoredArticle]:
        """The run's articles, each with its images."""
        ...

    async def images_of_content(self, content_id: uuid.UUID) -> list[ArticleImage]: ...


class WorkQueues(Protocol):
    """Each stage's work in sight, per site, oldest first."""

    async def new_keywords(self, site_id: uuid.UUID, limit: int) -> list[NewKeyword]: ...

    async def clusters_without_ideas(
        self, site_id: uuid.UUID, limit: int
    ) -> list[ClusterToPlan]: ...

    async def cluster_keywords(self, cluster_id: uuid.UUID) -> list[str]: ...

    async def ideas_without_tasks(self, site_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
        """Ids of the ideas stage 3 makes tasks of."""
        ...

    async def pending_tasks(self, site_id: uuid.UUID, limit: int) -> list[TaskBrief]: ...

    async def task_for_regeneration(
        self, site_id: uuid.UUID, task_id: uuid.UUID
    ) -> list[TaskBrief]: ...

    async def contents_without_prompts(
        self, site_id: uuid.UUID, limit: int
    ) -> list[ContentToIllustrate]: ...

    async def prompts_without_images(self, site_id: uuid.UUID, limit: int) -> list[ImagePrompt]: ...

    async def work_counts(self, site_id: uuid.UUID) -> dict[str, int]: ...

    async def prompt(self, prompt_id: uuid.UUID) -> ImagePrompt | None: ...


class SiteRepository(Protocol):
    """The sites integration announced, their automation config and schedule state."""

    async def site(self, account_id: uuid.UUID, site_id: uuid.UUID) -> Site | None: ...

    async def config(self, site_id: uuid.UUID) -> AutomationConfig | None:
        """The site's saved config (validated), None when it has none."""
        ...

    async def save_config(
        self, account_id: uuid.UUID, site_id: uuid.UUID, config: AutomationConfig
    ) -> None: ...

    async def scheduled_sites(self) -> list[ScheduledSite]: ...

    async def mark_occurrence(
        self, site_id: uuid.UUID, occurrence: datetime, outcome: str
    ) -> None: ...


class Library(Protocol):
    """The library people browse and edit over HTTP, tenant-scoped by account and site."""

    async def get_item(
        self, kind: LibraryKind, account_id: uuid.UUID, site_id: uuid.UUID, item_id: uuid.UUID
    ) -> LibraryItem | None: ...

    async def article(
        self, account_id: uuid.UUID, site_id: uuid.UUID, content_id: uuid.UUID
    ) -> StoredArticle | None:
        """The account's article (without its images)."""
        ...

    async def update_item(
        self,
        kind: LibraryKind,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        item_id: uuid.UUID,
        values: ItemEdit,
    ) -> bool: ...

    async def ids(
        self, kind: LibraryKind, parent: str, parent_ids: list[uuid.UUID]
    ) -> list[uuid.UUID]:
        """Ids of the `kind` rows whose `parent` column is one of `parent_ids`."""
        ...

    async def delete(self, kind: LibraryKind, item_ids: list[uuid.UUID]) -> None:
        """Delete rows of `kind`; an article goes with its image prompts and images."""
        ...

    async def set_ideas_new(self, idea_ids: list[uuid.UUID]) -> None: ...

    async def release_keywords(self, cluster_id: uuid.UUID) -> None: ...

    async def delete_keyword(
        self, account_id: uuid.UUID, site_id: uuid.UUID, keyword_id: uuid.UUID
    ) -> bool: ...


class PublishedContent(Protocol):
    """Article versions and what publishing reported about each publication of an article."""

    async def next_version(self, content_id: uuid.UUID) -> int: ...

    async def record(self, publication: Publication) -> bool:
        """Keep the publication's latest state; False when a newer article version is known."""
        ...

    async def refresh_status(self, content_id: uuid.UUID) -> ContentStatus | None: ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """One transaction over automation's repositories (one per aggregate), with its outbox.
    Read-only properties: each implementation exposes its own repository types."""

    @property
    def runs(self) -> RunRepository: ...

    @property
    def holds(self) -> HoldBook: ...

    @property
    def items(self) -> ItemCheckpoints: ...

    @property
    def planner(self) -> PlannerRepository: ...

    @property
    def queues(self) -> WorkQueues: ...

    @property
    def sites(self) -> SiteRepository: ...

    @property
    def library(self) -> Library: ...

    @property
    def published(self) -> PublishedContent: ...

    @property
    def run_queue(self) -> RunQueue: ...


class CreditQuotes(Protocol):
    """Billing's price for quantities per operation (a quote, nothing held)."""

    async def quote(self, account_id: uuid.UUID, quantities: dict[str, int]) -> Quote: ...


class ImageStorage(Protocol):
    async def save(
        self, account_id: uuid.UUID, site_id: uuid.UUID, image_id: uuid.UUID, png: bytes
    ) -> str:
        """Store the PNG; its storage key."""
        ...

    async def read(self, key: str) -> bytes: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
