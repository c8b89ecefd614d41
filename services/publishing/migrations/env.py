"""Alembic environment of the publishing database."""

from alembic import context

from igny8.db.migrations import run_env
from publishing.adapters.sqlalchemy_tables import metadata
from publishing.config import PublishingSettings

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", PublishingSettings().database_url)
run_env(metadata)
