"""Scheduled-sync attempts: when the next attempt is due, when the last one was made, and how many
failed in a row (backoff), so a failing integration is not retried every tick.

Revision ID: integration_rel_auth_integ_0001
Revises: integration_0002
Create Date: 2026-11-26 12:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "integration_rel_auth_integ_0001"
down_revision: str | None = "integration_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("integrations", sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "integrations", sa.Column("last_sync_attempt_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "integrations",
        sa.Column("sync_failures", sa.Integer(), server_default="0", nullable=False),
    )
    # Existing integrations keep their rhythm: next due one interval (3600 s) after their last sync.
    op.execute(
        "UPDATE integrations SET next_sync_at = last_synced_at + interval '3600 seconds' "
        "WHERE last_synced_at IS NOT NULL"
    )
    op.create_index(
        "ix_integrations_next_sync",
        "integrations",
        ["next_sync_at"],
        postgresql_where=sa.text("deleted_at IS NULL AND is_active AND sync_enabled"),
    )


def downgrade() -> None:
    op.drop_index("ix_integrations_next_sync", table_name="integrations")
    op.drop_column("integrations", "sync_failures")
    op.drop_column("integrations", "last_sync_attempt_at")
    op.drop_column("integrations", "next_sync_at")
