"""A pooled connection the database dropped while it sat idle in the pool is replaced before use
(pinged only when idle: a ping is three round trips with asyncpg), and one dropped within the
idle allowance fails its unit once with a disconnect error and the pool is renewed."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import sqlalchemy as sa

from igny8.db import create_engine
from igny8.messaging.failures import is_transient

pytestmark = pytest.mark.integration


async def backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(db_url: str, pid: int) -> None:
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()
    await asyncio.sleep(0.1)  # the backend is gone before the pool hands the connection out


async def test_a_connection_dropped_while_idle_is_replaced_before_use(db_url):
    engine = create_engine(db_url, pool_size=1, ping_after_idle_s=0.2)
    try:
        first = await backend_pid(engine)
        await terminate(db_url, first)
        await asyncio.sleep(0.2)  # idle past the allowance: the checkout pings it
        assert await backend_pid(engine) != first  # no error: a fresh connection
    finally:
        await engine.dispose()


async def test_pinging_at_every_checkout_stays_available(db_url):
    engine = create_engine(db_url, pool_size=1, ping_after_idle_s=0)
    try:
        first = await backend_pid(engine)
        await terminate(db_url, first)
        assert await backend_pid(engine) != first
    finally:
        await engine.dispose()


async def test_a_connection_dropped_within_the_allowance_fails_once_as_transient(db_url):
    engine = create_engine(db_url, pool_size=1, ping_after_idle_s=60)
    try:
        first = await backend_pid(engine)
        await terminate(db_url, first)
        with pytest.raises(sa.exc.DBAPIError) as failed:
            await backend_pid(engine)
        assert failed.value.connection_invalidated
        assert is_transient(failed.value)  # consumers retry it; HTTP answers 503
        assert await backend_pid(engine) != first  # the pool was renewed: the retry works
    finally:
        await engine.dispose()
