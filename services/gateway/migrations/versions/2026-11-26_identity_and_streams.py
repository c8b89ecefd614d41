"""Users, accounts, memberships, API keys, idempotency keys, rate buckets, the event stream,
webhook endpoints with their deliveries, and e-mails.

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

from gateway.adapters.sqlalchemy_tables import metadata

revision: str = "gateway_0002"
down_revision: str | None = "gateway_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "users",
    "accounts",
    "memberships",
    "api_keys",
    "idempotency_keys",
    "rate_buckets",
    "stream_events",
    "webhook_endpoints",
    "webhook_deliveries",
    "emails",
)


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        metadata.tables[name].drop(bind)
