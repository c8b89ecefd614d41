"""Migrations: the stairway (every revision up, down, up again) and no drift between the tables
the code declares and what the migrations create."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.db import migrations
from igny8.testing import temporary_database
from publishing.adapters.sqlalchemy_tables import metadata
from publishing.bootstrap import SERVICE_ROOT

pytestmark = pytest.mark.integration


async def test_stairway_and_no_drift(postgres_admin_url):
    async with temporary_database(postgres_admin_url, "publishing_stairway") as url:
        config = migrations.alembic_config(SERVICE_ROOT, url)
        revisions = [r.revision for r in ScriptDirectory.from_config(config).walk_revisions()]
        for revision in reversed(revisions):
            await asyncio.to_thread(migrations.upgrade, SERVICE_ROOT, url, revision)
            down = ScriptDirectory.from_config(config).get_revision(revision).down_revision
            await asyncio.to_thread(migrations.downgrade, SERVICE_ROOT, url, down or "base")
            await asyncio.to_thread(migrations.upgrade, SERVICE_ROOT, url, revision)
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                diff = await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
        finally:
            await engine.dispose()
        assert diff == []
