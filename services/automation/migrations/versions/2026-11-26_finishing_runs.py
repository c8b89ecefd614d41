"""Runs wait in `finishing` (live) until billing answered every capture; holds keep their
request so an unanswered reserve can be re-sent.

Revision ID: auto_engine_0001
Revises: automation_0005
Create Date: 2026-11-26 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "auto_engine_0001"
down_revision: str | None = "automation_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "('pending', 'reserving', 'running', 'paused', 'completed', 'cancelled', 'failed', 'rejected')"
_NEW = (
    "('pending', 'reserving', 'running', 'paused', 'finishing', 'completed', 'cancelled', "
    "'failed', 'rejected')"
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
    op.add_column("runs", sa.Column("ending", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("end_reason", sa.Text(), nullable=True))
    op.add_column("run_holds", sa.Column("request", JSONB(), nullable=True))
    _status_check(_NEW)
    _live_index("('reserving', 'running', 'paused', 'finishing')")


def downgrade() -> None:
    op.execute("UPDATE runs SET status = ending WHERE status = 'finishing'")
    _live_index("('reserving', 'running', 'paused')")
    _status_check(_OLD)
    op.drop_column("run_holds", "request")
    op.drop_column("runs", "end_reason")
    op.drop_column("runs", "ending")
