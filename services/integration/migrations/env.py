"""Alembic environment of the integration database."""

from alembic import context

from igny8.db.migrations import run_env
from integration.adapters.sqlalchemy_tables import metadata
from integration.config import IntegrationSettings

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", IntegrationSettings().database_url)
run_env(metadata)
