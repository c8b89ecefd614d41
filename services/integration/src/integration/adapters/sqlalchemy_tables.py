"""The integration database schema (SQLAlchemy Core tables). Every row carries account_id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from igny8.db import new_metadata
from igny8.messaging import include_messaging_tables

metadata = new_metadata()
include_messaging_tables(metadata)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


sites = sa.Table(
    "sites",
    metadata,
    sa.Column("site_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("sector", sa.Text, nullable=False, server_default=""),
    sa.Column("niche", sa.Text, nullable=False, server_default=""),
    sa.Column("language", sa.Text, nullable=False, server_default="en"),
    sa.Column("timezone", sa.Text, nullable=False, server_default="UTC"),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    _now("created_at"),
)
sa.Index("ix_sites_account", sites.c.account_id, sites.c.created_at)

integrations = sa.Table(
    "integrations",
    metadata,
    sa.Column("integration_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("site_id", UUID(as_uuid=True), sa.ForeignKey("sites.site_id"), nullable=False),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("base_url", sa.Text, nullable=False),
    sa.Column("settings", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("sync_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("sync_status", sa.Text, nullable=False, server_default="never"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("health_score", sa.SmallInteger, nullable=False, server_default="100"),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("credentials", sa.LargeBinary, nullable=True),
    sa.Column("credential_key_id", sa.Text, nullable=True),
    sa.Column("last_test", JSONB, nullable=True),
    sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    _now("created_at"),
    # When the scheduler may try next (null: now), pushed back at every attempt; the failed
    # attempts in a row are the backoff's exponent (0 after a success).
    sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_sync_attempt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sync_failures", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("platform IN ('wordpress', 'shopify', 'static')", name="platform"),
)
sa.Index("ix_integrations_site", integrations.c.account_id, integrations.c.site_id)
sa.Index(
    "ix_integrations_next_sync",
    integrations.c.next_sync_at,
    postgresql_where=sa.text("deleted_at IS NULL AND is_active AND sync_enabled"),
)

inventory = sa.Table(
    "inventory",
    metadata,
    sa.Column(
        "integration_id",
        UUID(as_uuid=True),
        sa.ForeignKey("integrations.integration_id"),
        primary_key=True,
    ),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("remote_id", sa.Text, primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("title", sa.Text, nullable=False, server_default=""),
    sa.Column("url", sa.Text, nullable=False, server_default=""),
    sa.Column("excerpt", sa.Text, nullable=False, server_default=""),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True),
    _now("synced_at"),
)
sa.Index("ix_inventory_site", inventory.c.account_id, inventory.c.site_id, inventory.c.kind)

sync_events = sa.Table(
    "sync_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("sync_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column(
        "integration_id",
        UUID(as_uuid=True),
        sa.ForeignKey("integrations.integration_id"),
        nullable=False,
    ),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("added", sa.Integer, nullable=False, server_default="0"),
    sa.Column("changed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("removed", sa.Integer, nullable=False, server_default="0"),
    _now("created_at"),
    # `publish`: a publication's outcome on this integration (publishing's events)
    sa.CheckConstraint("kind IN ('sync', 'test', 'publish')", name="kind"),
)
sa.Index("ix_sync_events_integration", sync_events.c.integration_id, sync_events.c.id)
