"""The publishing database schema (SQLAlchemy Core tables)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from igny8.db import new_metadata
from igny8.messaging import include_messaging_tables

metadata = new_metadata()
include_messaging_tables(metadata)


def _at(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


# -- replicas of integration's entities (newest snapshot version kept) -----------------------------
known_sites = sa.Table(
    "known_sites",
    metadata,
    sa.Column("site_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
)

known_integrations = sa.Table(
    "known_integrations",
    metadata,
    sa.Column("integration_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("base_url", sa.Text, nullable=False),
    sa.Column("settings", JSONB, nullable=False, server_default="{}"),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Index("ix_known_integrations_site", "site_id"),
)

inventory_items = sa.Table(
    "inventory_items",
    metadata,
    sa.Column("item_id", sa.Text, primary_key=True),
    sa.Column("integration_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("remote_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("url", sa.Text, nullable=False, server_default=""),
    sa.Column("excerpt", sa.Text, nullable=False, server_default=""),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_inventory_items_site", "site_id", "kind"),
)

# -- publishing's own data ---------------------------------------------------------------------
site_settings = sa.Table(
    "site_settings",
    metadata,
    sa.Column("site_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("settings", JSONB, nullable=False),
    _at("updated_at", nullable=False),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("content_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("run_id", UUID(as_uuid=True), nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("html", sa.Text, nullable=False),
    sa.Column("linked_html", sa.Text, nullable=False),
    sa.Column("meta_title", sa.Text, nullable=False),
    sa.Column("meta_description", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("keywords", JSONB, nullable=False),
    sa.Column("images", JSONB, nullable=False),
    sa.Column("auto_publish", sa.Boolean, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("report", JSONB, nullable=False),
    _at("received_at", nullable=False),
    sa.Index("ix_articles_site", "site_id"),
)

publications = sa.Table(
    "publications",
    metadata,
    sa.Column("publication_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("integration_id", UUID(as_uuid=True), nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("slug", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("content_version", sa.BigInteger, nullable=False),
    sa.Column("published_version", sa.BigInteger, nullable=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("hold_reason", sa.Text, nullable=True),
    _at("scheduled_for"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("remote_id", sa.Text, nullable=True),
    sa.Column("remote_url", sa.Text, nullable=True),
    sa.Column("remote_modified", sa.Text, nullable=True),
    _at("create_started_at"),
    _at("lease_until"),
    sa.Column("last_error", sa.Text, nullable=True),
    _at("published_at"),
    _at("created_at", nullable=False),
    _at("updated_at", nullable=False),
    sa.UniqueConstraint("content_id", "integration_id"),
    sa.CheckConstraint(
        "status IN ('pending_approval', 'scheduled', 'publishing', 'published', 'failed', "
        "'cancelled', 'unpublished')",
        name="status",
    ),
    sa.Index("ix_publications_site", "account_id", "site_id", "status"),
    sa.Index(
        "ix_publications_due",
        "scheduled_for",
        postgresql_where=sa.text("status IN ('scheduled', 'publishing')"),
    ),
)

publication_transitions = sa.Table(
    "publication_transitions",
    metadata,
    sa.Column("transition_id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "publication_id",
        UUID(as_uuid=True),
        sa.ForeignKey("publications.publication_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("from_status", sa.Text, nullable=True),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    _at("at", nullable=False),
    sa.Index("ix_publication_transitions_publication", "publication_id", "transition_id"),
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("link_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("source_content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("content_version", sa.BigInteger, nullable=False),
    sa.Column("target_ref", sa.Text, nullable=False),
    sa.Column("target_url", sa.Text, nullable=False),
    sa.Column("anchor", sa.Text, nullable=False),
    sa.Column("block", sa.Integer, nullable=False),
    sa.Column("char_offset", sa.Integer, nullable=False),
    sa.Column("similarity", sa.Float, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    _at("created_at", nullable=False),
    _at("undone_at"),
    sa.CheckConstraint("status IN ('active', 'undone', 'replaced')", name="status"),
    sa.Index("ix_links_site", "account_id", "site_id", "status"),
    sa.Index("ix_links_source", "source_content_id"),
)

link_suggestions = sa.Table(
    "link_suggestions",
    metadata,
    sa.Column("suggestion_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("source_content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("target_content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("target_url", sa.Text, nullable=False),
    sa.Column("anchor", sa.Text, nullable=False),
    sa.Column("similarity", sa.Float, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="proposed"),
    sa.Column("link_id", UUID(as_uuid=True), nullable=True),
    sa.Column("decided_by", sa.Text, nullable=True),
    _at("created_at", nullable=False),
    _at("decided_at"),
    sa.UniqueConstraint("source_content_id", "target_content_id"),
    sa.CheckConstraint("status IN ('proposed', 'accepted', 'rejected', 'stale')", name="status"),
    sa.Index("ix_link_suggestions_site", "account_id", "site_id", "status"),
)


# -- the AI optimizer ---------------------------------------------------------------------------
optimizations = sa.Table(
    "optimizations",
    metadata,
    sa.Column("optimization_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("content_id", UUID(as_uuid=True), nullable=False),
    sa.Column("article_version", sa.BigInteger, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("checks", JSONB, nullable=False),
    # the failing checks it was asked to fix
    sa.Column("quantity", sa.BigInteger, nullable=False),
    # words reserved for (and charged): the article's length when it was requested
    sa.Column("score_before", sa.Integer, nullable=False),
    sa.Column("score_after", sa.Integer, nullable=True),
    sa.Column("kept", sa.Boolean, nullable=True),
    sa.Column("diff", JSONB, nullable=True),
    sa.Column("credits", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    _at("created_at", nullable=False),
    _at("updated_at", nullable=False),
    sa.CheckConstraint(
        "status IN ('reserving', 'ready', 'running', 'completed', 'failed', 'rejected', 'stale')",
        name="status",
    ),
)
sa.Index("ix_optimizations_content", optimizations.c.content_id, optimizations.c.created_at)
sa.Index("ix_optimizations_status", optimizations.c.status)
# one live or successful optimization per article version: a repeated request finds it
sa.Index(
    "uq_optimizations_version",
    optimizations.c.content_id,
    optimizations.c.article_version,
    unique=True,
    postgresql_where=sa.text("status NOT IN ('failed', 'rejected')"),
)

optimization_holds = sa.Table(
    "optimization_holds",
    metadata,
    sa.Column("reservation_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "optimization_id",
        UUID(as_uuid=True),
        sa.ForeignKey("optimizations.optimization_id"),
        nullable=False,
    ),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="requested"),
    sa.Column("credits", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("remaining", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("prices", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("reply", JSONB, nullable=True),
    sa.Column("request", JSONB, nullable=True),
    _at("created_at", nullable=False),
    sa.CheckConstraint(
        "status IN ('requested', 'reserved', 'rejected', 'releasing', 'released', 'expired')",
        name="status",
    ),
)
sa.Index("ix_optimization_holds_owner", optimization_holds.c.optimization_id)
