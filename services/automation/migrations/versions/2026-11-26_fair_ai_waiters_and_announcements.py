"""AI budget waiters and throttled queue announcements (issue 17): a call waiting for the shared
AI budget is a row (`granted` false) so freed capacity goes to the account with the fewest calls
in flight, across every worker; a queued run remembers when its place was last announced.

Revision ID: scheduling_0001
Revises: fair_0001
Create Date: 2026-11-26 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scheduling_0001"
down_revision: str | None = "fair_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ai_calls_in_flight",
        sa.Column("granted", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "runs", sa.Column("queue_announced_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("runs", "queue_announced_at")
    op.drop_column("ai_calls_in_flight", "granted")
