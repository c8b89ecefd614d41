"""Alembic environment of the gateway database."""

from alembic import context

from gateway.adapters.sqlalchemy_tables import metadata
from gateway.config import GatewaySettings
from igny8.db.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", GatewaySettings().database_url)
run_env(metadata)
