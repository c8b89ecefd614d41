"""Articles carry a version that grows with every edit or regeneration; publishing's outcomes per
publication are kept so an article is `published` (with its URL) while any destination has it.

Revision ID: auto_api_0001
Revises: auto_engine_0001
Create Date: 2026-11-26 14:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "auto_api_0001"
down_revision: str | None = "auto_engine_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "contents", sa.Column("version", sa.Integer(), nullable=False, server_default="1")
    )
    op.add_column("contents", sa.Column("published_url", sa.Text(), nullable=True))
    op.create_table(
        "content_publications",
        sa.Column("publication_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("content_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("site_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index(
        "ix_content_publications_content", "content_publications", ["content_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_content_publications_content", table_name="content_publications")
    op.drop_table("content_publications")
    op.drop_column("contents", "published_url")
    op.drop_column("contents", "version")
