"""Fair run slots and the shared AI budget (issue 17): runs wait `queued` (live) with their place
in the queue; calls in flight and provider limits shared by every worker process.

Revision ID: fair_0001
Revises: deploy_0001
Create Date: 2026-11-26 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision: str = "fair_0001"
down_revision: str | None = "deploy_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = (
    "('pending', 'reserving', 'running', 'paused', 'finishing', 'completed', 'cancelled', "
    "'failed', 'rejected')"
)
_NEW = (
    "('pending', 'queued', 'reserving', 'running', 'paused', 'finishing', 'completed', "
    "'cancelled', 'failed', 'rejected')"
)


def _live_index(statuses: str) -> None:
    op.drop_index("uq_runs_one_live_per_site", table_name="runs")
    op.create_index(
        "uq_runs_one_live_per_site",
        "runs",
        ["site_id"],
        unique=True,
        postgresql_where=sa.text(f"status IN {statuses}"),
    )


def _status_check(statuses: str) -> None:
    op.execute("ALTER TABLE runs DROP CONSTRAINT ck_runs_status")
    op.execute(f"ALTER TABLE runs ADD CONSTRAINT ck_runs_status CHECK (status IN {statuses})")


def upgrade() -> None:
    op.add_column("runs", sa.Column("queue_position", sa.Integer(), nullable=True))
    _status_check(_NEW)
    _live_index("('queued', 'reserving', 'running', 'paused', 'finishing')")
    op.create_index(
        "ix_runs_queued",
        "runs",
        ["account_id", "created_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_runs_in_progress",
        "runs",
        ["account_id"],
        postgresql_where=sa.text("status IN ('reserving', 'running', 'finishing')"),
    )
    op.create_table(
        "ai_calls_in_flight",
        sa.Column("call_id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_ai_calls_in_flight")),
    )
    op.create_index(
        "ix_ai_calls_in_flight_provider", "ai_calls_in_flight", ["provider"], unique=False
    )
    op.create_table(
        "ai_providers",
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("limit_now", sa.Integer(), nullable=False),
        sa.Column("cooldown_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("strikes", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_ai_providers")),
    )


def downgrade() -> None:
    op.drop_table("ai_providers")
    op.drop_index("ix_ai_calls_in_flight_provider", table_name="ai_calls_in_flight")
    op.drop_table("ai_calls_in_flight")
    op.drop_index("ix_runs_in_progress", table_name="runs")
    op.drop_index("ix_runs_queued", table_name="runs")
    op.execute("UPDATE runs SET status = 'reserving' WHERE status = 'queued'")
    _live_index("('reserving', 'running', 'paused', 'finishing')")
    _status_check(_OLD)
    op.drop_column("runs", "queue_position")
