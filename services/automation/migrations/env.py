"""Alembic environment of the automation database."""

from alembic import context

from automation.adapters.sqlalchemy_tables import metadata
from automation.config import AutomationSettings
from igny8.db.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", AutomationSettings().database_url)
run_env(metadata)
