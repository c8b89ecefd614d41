"""The automation database schema (SQLAlchemy Core tables). Every tenant row carries account_id
and site_id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from igny8.db import new_metadata
from igny8.messaging import include_messaging_tables
from igny8.messaging.entities import site_replica_table

metadata = new_metadata()
include_messaging_tables(metadata)


def _id(name: str) -> sa.Column[object]:
    return sa.Column(name, UUID(as_uuid=True), primary_key=True)


def _tenant() -> list[sa.Column[object]]:
    return [
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    ]


def _created() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


known_sites = site_replica_table(metadata)  # the newest site.* snapshot per site (igny8)

keywords = sa.Table(
    "keywords",
    metadata,
    _id("keyword_id"),
    *_tenant(),
    sa.Column("keyword", sa.Text, nullable=False),
    sa.Column("volume", sa.Integer, nullable=True),
    sa.Column("difficulty", sa.Integer, nullable=True),
    sa.Column("cpc", sa.Numeric(10, 2), nullable=True),
    sa.Column("intent", sa.Text, nullable=True),
    sa.Column("country", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False, server_default="new"),
    sa.Column("cluster_id", UUID(as_uuid=True), nullable=True),
    _created(),
    sa.UniqueConstraint("site_id", "keyword", name="uq_keywords_site_keyword"),
    sa.CheckConstraint("status IN ('new', 'clustered', 'used', 'archived')", name="status"),
)
sa.Index("ix_keywords_site_status", keywords.c.account_id, keywords.c.site_id, keywords.c.status)

clusters = sa.Table(
    "clusters",
    metadata,
    _id("cluster_id"),
    *_tenant(),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("primary_keyword", sa.Text, nullable=False, server_default=""),
    sa.Column("keyword_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.Text, nullable=False, server_default="new"),
    _created(),
)
sa.Index("ix_clusters_site", clusters.c.account_id, clusters.c.site_id)

ideas = sa.Table(
    "ideas",
    metadata,
    _id("idea_id"),
    *_tenant(),
    sa.Column(
        "cluster_id", UUID(as_uuid=True), sa.ForeignKey("clusters.cluster_id"), nullable=False
    ),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("brief", sa.Text, nullable=False, server_default=""),
    sa.Column("outline", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("target_keywords", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("content_type", sa.Text, nullable=False, server_default="post"),
    sa.Column("structure", sa.Text, nullable=False, server_default="guide"),
    sa.Column("status", sa.Text, nullable=False, server_default="new"),
    _created(),
)
sa.Index("ix_ideas_site", ideas.c.account_id, ideas.c.site_id)

tasks = sa.Table(
    "tasks",
    metadata,
    _id("task_id"),
    *_tenant(),
    sa.Column(
        "idea_id", UUID(as_uuid=True), sa.ForeignKey("ideas.idea_id"), nullable=False, unique=True
    ),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    _created(),
    sa.CheckConstraint("status IN ('pending', 'generating', 'completed', 'failed')", name="status"),
)

contents = sa.Table(
    "contents",
    metadata,
    _id("content_id"),
    *_tenant(),
    sa.Column(
        "task_id", UUID(as_uuid=True), sa.ForeignKey("tasks.task_id"), nullable=False, unique=True
    ),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("meta_title", sa.Text, nullable=False, server_default=""),
    sa.Column("meta_description", sa.Text, nullable=False, server_default=""),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("keywords", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("word_count", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="draft"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # grows with every edit or regeneration: `content.ready` carries it to publishing
    sa.Column("published_url", sa.Text, nullable=True),
    _created(),
    sa.CheckConstraint("status IN ('draft', 'ready', 'approved', 'published')", name="status"),
)
sa.Index("ix_contents_site", contents.c.account_id, contents.c.site_id)

content_publications = sa.Table(
    "content_publications",
    metadata,
    # one row per publishing publication (an article on one destination), from publication.* events
    _id("publication_id"),
    sa.Column("content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("content_version", sa.Integer, nullable=False),
    sa.Column("remote_id", sa.Text, nullable=True),
    sa.Column("url", sa.Text, nullable=True),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
sa.Index("ix_content_publications_content", content_publications.c.content_id)

image_prompts = sa.Table(
    "image_prompts",
    metadata,
    _id("prompt_id"),
    *_tenant(),
    sa.Column(
        "content_id", UUID(as_uuid=True), sa.ForeignKey("contents.content_id"), nullable=False
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("alt", sa.Text, nullable=False, server_default=""),
    _created(),
    sa.UniqueConstraint("content_id", "kind", "position", name="uq_image_prompts_slot"),
)

images = sa.Table(
    "images",
    metadata,
    _id("image_id"),
    *_tenant(),
    sa.Column(
        "prompt_id",
        UUID(as_uuid=True),
        sa.ForeignKey("image_prompts.prompt_id"),
        nullable=False,
        unique=True,
    ),
    sa.Column("content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("storage_key", sa.Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    _created(),
)

automation_configs = sa.Table(
    "automation_configs",
    metadata,
    _id("site_id"),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("config", JSONB, nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

runs = sa.Table(
    "runs",
    metadata,
    _id("run_id"),
    *_tenant(),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("stages", JSONB, nullable=False),
    sa.Column("requested", sa.Text, nullable=True),  # pause/cancel/yield asked; between items
    sa.Column("pause_reason", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("config", JSONB, nullable=False),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("fencing_token", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("credits_charged", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("rejection", JSONB, nullable=True),
    sa.Column("target", JSONB, nullable=True),  # a regeneration: {"content_id": …, "task_id": …}
    _created(),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    # while `finishing`: the status the run ends in once billing answered every capture
    sa.Column("ending", sa.Text, nullable=True),
    sa.Column("end_reason", sa.Text, nullable=True),
    # while `queued`: the run's place in the fair queue, as last computed (1 = next slot)
    sa.Column("queue_position", sa.Integer, nullable=True),
    sa.Column("queue_announced_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint(
        "status IN ('pending', 'queued', 'reserving', 'running', 'paused', 'finishing', "
        "'completed', 'cancelled', 'failed', 'rejected')",
        name="status",
    ),
)
# At most one live run per site, enforced by the database (not a cache lock).
sa.Index(
    "uq_runs_one_live_per_site",
    runs.c.site_id,
    unique=True,
    postgresql_where=sa.text("status IN ('queued', 'reserving', 'running', 'paused', 'finishing')"),
)
# The fair scheduler reads the queue (oldest first per account) and the runs in progress.
sa.Index(
    "ix_runs_queued",
    runs.c.account_id,
    runs.c.created_at,
    postgresql_where=sa.text("status = 'queued'"),
)
sa.Index(
    "ix_runs_in_progress",
    runs.c.account_id,
    postgresql_where=sa.text("status IN ('reserving', 'running', 'finishing')"),
)
sa.Index("ix_runs_site", runs.c.account_id, runs.c.site_id, runs.c.created_at)

run_holds = sa.Table(
    "run_holds",
    metadata,
    _id("reservation_id"),
    sa.Column("run_id", UUID(as_uuid=True), sa.ForeignKey("runs.run_id"), nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="requested"),
    sa.Column("credits", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("remaining", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("prices", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reply", JSONB, nullable=True),
    sa.Column("request", JSONB, nullable=True),  # the reserve's items, re-sent unchanged
    _created(),
    sa.CheckConstraint(
        "status IN ('requested', 'reserved', 'rejected', 'releasing', 'released', 'expired')",
        name="status",
    ),
)
sa.Index("ix_run_holds_run", run_holds.c.run_id)

run_items = sa.Table(
    "run_items",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column(
        "item_key", sa.Text, primary_key=True
    ),  # a finished item is never redone nor recharged
    sa.Column("stage", sa.SmallInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("commit_id", UUID(as_uuid=True), nullable=True),
    # billing answered the capture (committed or refused): only then may the hold be released
    sa.Column("settled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("credits", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    _created(),
)

sa.Index("ix_run_items_commit", run_items.c.commit_id)

stage_results = sa.Table(
    "stage_results",
    metadata,
    sa.Column("run_id", UUID(as_uuid=True), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("stage", sa.SmallInteger, primary_key=True),
    sa.Column("result", JSONB, nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)

schedule_state = sa.Table(
    "schedule_state",
    metadata,
    _id("site_id"),
    sa.Column("last_occurrence", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_outcome", sa.Text, nullable=False, server_default=""),
)

# The run log (adapters/sqlalchemy_run_logs.py): written by whichever worker drives the run, read
# by any api process. No account column: a line is only ever reached through its run, whose
# account the reader checks first.
run_log = sa.Table(
    "run_log",
    metadata,
    sa.Column("entry_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("run_id", UUID(as_uuid=True), nullable=False),
    sa.Column("stage", sa.SmallInteger, nullable=True),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("fields", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

sa.Index("ix_run_log_run", run_log.c.run_id, run_log.c.at, run_log.c.entry_id)
sa.Index("ix_run_log_at", run_log.c.at)  # retention deletes by age

# The AI provider budget shared by every worker process (issue 17): one row per call in flight
# (with an expiry, so a crashed worker's calls free themselves) and one row per provider with its
# current concurrency limit and the cool-down a 429 imposed on the whole fleet.
ai_calls_in_flight = sa.Table(
    "ai_calls_in_flight",
    metadata,
    sa.Column("call_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("granted", sa.Boolean, nullable=False, server_default=sa.true()),
    _created(),
)
sa.Index("ix_ai_calls_in_flight_provider", ai_calls_in_flight.c.provider)

ai_providers = sa.Table(
    "ai_providers",
    metadata,
    sa.Column("provider", sa.Text, primary_key=True),
    sa.Column("limit_now", sa.Integer, nullable=False),
    sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("strikes", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
