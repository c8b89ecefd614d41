"""Release tombstones: a release that overtook its reserve refuses the reserve that follows.

Revision ID: rel_billing_msg_0001
Revises: billing_0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "rel_billing_msg_0001"
down_revision: str | None = "billing_payments_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "release_tombstones",
        sa.Column("reservation_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "reservation_id", "account_id", name=op.f("pk_release_tombstones")
        ),
    )


def downgrade() -> None:
    op.drop_table("release_tombstones")
