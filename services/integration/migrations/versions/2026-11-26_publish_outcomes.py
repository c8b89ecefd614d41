"""publish outcomes count toward health: sync_events.kind may be 'publish'

Revision ID: integration_publishing_0001
Revises: integration_rel_auth_integ_0001
Create Date: 2026-11-26 15:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "integration_publishing_0001"
down_revision: str | None = "integration_rel_auth_integ_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_sync_events_kind"), "sync_events", type_="check")
    op.create_check_constraint(
        op.f("ck_sync_events_kind"), "sync_events", "kind IN ('sync', 'test', 'publish')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM sync_events WHERE kind = 'publish'")
    op.drop_constraint(op.f("ck_sync_events_kind"), "sync_events", type_="check")
    op.create_check_constraint(op.f("ck_sync_events_kind"), "sync_events", "kind IN ('sync', 'test')")
