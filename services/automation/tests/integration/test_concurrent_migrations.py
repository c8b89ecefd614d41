"""Several workers started at once each migrate the same database: one migrates, the others wait
for it and find nothing left to do (before, the others' CREATE TABLE failed their start)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from igny8.testing import temporary_database

pytestmark = pytest.mark.integration

AUTOMATION_ROOT = Path(__file__).resolve().parents[2]
MIGRATE = "import sys; from pathlib import Path; from igny8.db import migrations; " \
    "migrations.upgrade(Path(sys.argv[1]), sys.argv[2])"  # fmt: skip


async def test_workers_migrating_one_database_at_once_all_start(postgres_admin_url):
    async with temporary_database(postgres_admin_url, "migrate_race") as url:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                MIGRATE,
                str(AUTOMATION_ROOT),
                url,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        answers = [await worker.communicate() for worker in workers]
        failed = [
            err.decode()[-600:]
            for (_, err), w in zip(answers, workers, strict=True)
            if w.returncode
        ]
        assert failed == []
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                versions = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                assert len(versions.all()) == 1
        finally:
            await engine.dispose()
