"""Alembic environment of the billing database."""

from alembic import context

import billing.adapters.sqlalchemy_invoicing_tables  # noqa: F401  (registers its tables)
from billing.adapters.sqlalchemy_tables import metadata
from billing.config import BillingSettings
from igny8.db.migrations import run_env

if not context.config.get_main_option("sqlalchemy.url"):
    context.config.set_main_option("sqlalchemy.url", BillingSettings().database_url)
run_env(metadata)
