"""Idempotency keys and stream events leave after their windows; fresh ones stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from gateway_support import settings_for

from gateway.adapters.sqlalchemy_tables import idempotency_keys, stream_events
from gateway.entrypoints.housekeeping import purge

pytestmark = pytest.mark.integration


async def test_old_rows_are_purged_and_fresh_ones_kept(gateway_db, gateway_engine):
    account = uuid.uuid4()
    now = datetime.now(UTC)
    async with gateway_engine.begin() as conn:
        for key, age in (("old", timedelta(hours=30)), ("new", timedelta(0))):
            await conn.execute(
                idempotency_keys.insert().values(
                    account_id=account, key=key, fingerprint="f", status=201, created_at=now - age
                )
            )
        for age in (timedelta(hours=100), timedelta(0)):
            await conn.execute(
                stream_events.insert().values(
                    event_id=uuid.uuid4(),
                    account_id=account,
                    type="run.started",
                    data={},
                    time=now - age,
                )
            )
    await purge(gateway_engine, settings_for(gateway_db))
    async with gateway_engine.connect() as conn:
        keys = await conn.scalars(
            sa.select(idempotency_keys.c.key).where(idempotency_keys.c.account_id == account)
        )
        assert list(keys) == ["new"]
        events = await conn.scalar(
            sa.select(sa.func.count()).where(stream_events.c.account_id == account)
        )
        assert events == 1
