"""The run log moves from each pod's disk into the database: any api process serves the trace and
logs of a run that another process drives.

Revision ID: deploy_0001
Revises: auto_api_0001
Create Date: 2026-11-26 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "deploy_0001"
down_revision: str | None = "auto_api_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_log",
        sa.Column("entry_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("run_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("stage", sa.SmallInteger(), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_run_log")),
    )
    op.create_index("ix_run_log_run", "run_log", ["run_id", "at", "entry_id"], unique=False)
    op.create_index("ix_run_log_at", "run_log", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_log_at", table_name="run_log")
    op.drop_index("ix_run_log_run", table_name="run_log")
    op.drop_table("run_log")
