"""The outbox and inbox tables every service database carries (created by its first migration)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from igny8.db.metadata import new_metadata

messaging_metadata = new_metadata()

outbox = sa.Table(
    "outbox",
    messaging_metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("message_id", postgresql.UUID(as_uuid=True), nullable=False, unique=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", sa.LargeBinary, nullable=False),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("headers", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Index("ix_outbox_unsent", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None))

inbox = sa.Table(
    "inbox",
    messaging_metadata,
    sa.Column("consumer", sa.Text, primary_key=True),
    sa.Column("message_id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
# The purge finds old rows by age: without this index each pass scans the whole inbox. Databases
# migrated before it existed get it from the relay (`retention.ensure_inbox_age_index`).
INBOX_AGE_INDEX = "ix_inbox_received_at"
sa.Index(INBOX_AGE_INDEX, inbox.c.received_at)


def create_messaging_tables(op: Any) -> None:
    """Call from a service's first Alembic migration."""
    bind = op.get_bind()
    messaging_metadata.create_all(bind)


def drop_messaging_tables(op: Any) -> None:
    messaging_metadata.drop_all(op.get_bind())


def include_messaging_tables(metadata: sa.MetaData) -> None:
    """Copy the tables into a service's MetaData so Alembic's autogenerate sees them."""
    for table in (outbox, inbox):
        if table.name not in metadata.tables:
            table.to_metadata(metadata)
