"""Settings of the automation service: environment variables prefixed `AUTOMATION_`."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from igny8.config import ServiceSettings


class AIFunctionOverride(BaseModel):
    """Per-function overrides (`AUTOMATION_OPENAI_FUNCTIONS` as JSON, keyed by function name)."""

    model: str | None = None
    api_key: SecretStr | None = None
    base_url: str | None = None
    timeout_s: float | None = None
    max_retries: int | None = Field(default=None, ge=0, le=10)


class AutomationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUTOMATION_", extra="ignore", frozen=True, populate_by_name=True
    )

    http_port: int = 8102
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AUTOMATION_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AUTOMATION_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_model: str = "gpt-4.1-mini"
    openai_image_model: str = "gpt-image-1"
    openai_image_size: str = "1024x1024"
    openai_timeout_s: float = 60.0
    openai_max_retries: int = Field(default=3, ge=0, le=10)
    openai_functions: dict[str, AIFunctionOverride] = Field(default_factory=dict)
    openai_token_prices: dict[str, tuple[Decimal, Decimal]] = Field(
        default_factory=lambda: {
            "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
            "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
        }
    )
    """USD per million input and output tokens, by model."""
    billing_url: str = "http://127.0.0.1:8101"
    public_url: str = "http://127.0.0.1:8102"
    """How publishing reaches this service (image URLs in content.ready)."""
    image_storage: Literal["local", "s3"] = "local"
    image_root: Path = Path("var/images")
    s3_bucket: str = ""
    s3_endpoint_url: str | None = None
    """For S3-compatible stores (MinIO, Ceph, …); empty for AWS."""
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = "images/"
    run_log_root: Path | None = None
    """Also write each run's log as files here (`<run>/main.log`, `stage-N.log`, `trace.jsonl`)
    to follow a local run with `tail -f`. The database holds the log every process serves."""
    run_log_retention_days: int = Field(default=90, ge=1)
    """Run log lines older than this are deleted (hourly, by one worker replica)."""
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    worker_tick_s: float = 1.0
    """The run driver's fallback look for work: runs queued or resumed wake it at once (NOTIFY),
    so the tick only finds a crashed worker's runs (15 s leases) or a NOTIFY missed."""
    lease_ttl_s: float = 15.0
    reserve_wait_s: float = 60.0
    """How long a run waits for billing's answer before sending the same reserve again."""
    reserve_deadline_s: float = 600.0
    """A run whose reserve got no answer for this long fails with the reason; the site is free."""
    image_deadline_s: float = 900.0
    """Stage 6 records an image as failed when no worker made it within this long."""
    start_wait_s: float = 5.0
    """How long POST /sites/{site_id}/runs waits for the run to leave `reserving`."""
    image_concurrency: int = Field(default=4, ge=1, le=32)
    image_window: int = Field(default=16, ge=1, le=1000)
    """Images of one run sent and not yet made at once (fairness between runs on the
    `image.generate` topic). Enough to keep one process's image gate busy while the images
    before are saved and seen made: with 8 (twice the gate) a run's next images were sent too
    late and the gate stood idle (bench/pipeline.py stage 6)."""
    scheduler_tick_s: float = 30.0
    max_provider_failures: int = Field(default=3, ge=1, le=50)
    # fair scheduling and the shared AI budget (issue 17; docs/architecture.md)
    max_runs_per_account: int = Field(default=100, ge=1)
    """Runs in progress at once per account across every worker (the rest wait `queued`)."""
    account_run_caps: dict[uuid.UUID, int] = Field(default_factory=dict)
    """Per-account overrides of `max_runs_per_account` (JSON: {account_id: runs})."""
    account_plans: dict[uuid.UUID, str] = Field(default_factory=dict)
    """Each account's plan for the per-plan caps (JSON: {account_id: plan}). Billing announces no
    plans on the bus, so automation learns them from this setting; unlisted accounts have none."""
    plan_run_caps: dict[str, int] = Field(default_factory=dict)
    """Runs in progress at once per account of a plan (JSON: {plan: runs}); an account's own cap
    wins over its plan's, which wins over `max_runs_per_account`."""
    yield_slots: bool = True
    """While runs wait, an account holding two or more runs more than the next waiting run's
    account gives slots back at its runs' next safe point (between items): a newcomer waits one
    item, not one whole run (`domain.scheduling.yields`)."""
    queue_position_every_ms: int = Field(default=500, ge=0, le=60_000)
    """A queued run's place is announced (`stage.progress`, reason `queued`) only when it
    changed, and at most once per this many milliseconds per run."""
    ai_max_in_flight: int = Field(default=32, ge=1, le=10_000)
    """AI calls in flight at once towards the provider, across every worker process."""
    ai_max_in_flight_per_account: int = Field(default=16, ge=1, le=10_000)
    """AI calls in flight at once for one account, across every worker process."""
    account_ai_caps: dict[uuid.UUID, int] = Field(default_factory=dict)
    """Per-account overrides of `ai_max_in_flight_per_account` (JSON: {account_id: calls})."""
    plan_ai_caps: dict[str, int] = Field(default_factory=dict)
    """AI calls in flight at once per account of a plan (JSON: {plan: calls})."""
    ai_call_lease_s: float = Field(default=300.0, gt=0)
    """A call's budget slot frees itself after this long (a worker that crashed mid-call)."""
    ai_cooldown_s: float = Field(default=1.0, gt=0)
    """The whole fleet's pause after a 429 (doubling with repeated 429s, up to 30 s)."""
