"""The gateway database schema (SQLAlchemy Core tables)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from igny8.db import new_metadata
from igny8.messaging import include_messaging_tables

metadata = new_metadata()
include_messaging_tables(metadata)

NOW = sa.text("now()")

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),  # the identity provider's `sub`
    sa.Column("email", sa.Text),
    sa.Column("platform_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("billing_opened", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.user_id"), primary_key=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.CheckConstraint("role IN ('owner','admin','editor','viewer')", name="role_known"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.account_id")),
    sa.Column("prefix", sa.Text, nullable=False, unique=True),
    sa.Column("digest", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("status", sa.Integer),  # NULL while the first request is in flight
    sa.Column("content_type", sa.Text),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("allowed", sa.Boolean, nullable=False),  # the last take's outcome (RETURNING)
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

stream_events = sa.Table(
    "stream_events",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("site_id", UUID(as_uuid=True)),
    sa.Column("run_id", UUID(as_uuid=True)),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("data", JSONB, nullable=False),
    sa.Column("time", sa.DateTime(timezone=True), nullable=False),
    sa.Index("stream_events_run", "account_id", "run_id", "seq"),
    sa.Index("stream_events_site", "account_id", "site_id", "seq"),
)

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("endpoint_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False, index=True),
    sa.Column("url", sa.Text, nullable=False),
    # The HMAC key must be readable to sign; it is shown to the customer once, at creation.
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("events", sa.ARRAY(sa.Text), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("delivery_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "endpoint_id",
        UUID(as_uuid=True),
        sa.ForeignKey("webhook_endpoints.endpoint_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.UniqueConstraint("endpoint_id", "event_id", name="one_delivery_per_event"),
    sa.Index("webhook_deliveries_due", "status", "next_attempt_at"),
)

emails = sa.Table(
    "emails",
    metadata,
    sa.Column("email_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("event_id", "recipient", name="one_email_per_event_and_recipient"),
    sa.Index("emails_due", "status", "next_attempt_at"),
)
