"""Alembic helpers: every service's migrations/env.py is three lines on top of these."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

_LOCK = "igny8:alembic-upgrade"
"""Advisory locks are per database, so one name serves every service's own database."""


def alembic_config(service_root: Path, database_url: str) -> Config:
    cfg = Config(str(service_root / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_root / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(service_root: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_root, database_url), revision)


def downgrade(service_root: Path, database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(service_root, database_url), revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of migrations/env.py: online, async, one transaction per migration run."""
    config = context.config

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            # Workers started together all migrate at start: the first takes this lock and the
            # others wait for its commit, then read the version it left and have nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": _LOCK})
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(run_async())
    else:  # called from inside a running loop: alembic is sync, so hop to a thread
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(1) as pool_:
            pool_.submit(asyncio.run, run_async()).result()
