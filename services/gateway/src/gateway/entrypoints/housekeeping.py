"""Old rows leave: idempotency keys after their window, stream events after the resume window,
finished webhook deliveries and e-mails after the log's retention."""

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.adapters.sqlalchemy_tables import (
    emails,
    idempotency_keys,
    stream_events,
    webhook_deliveries,
)
from gateway.config import GatewaySettings
from igny8.observability import get_logger

log = get_logger(__name__)
LOG_RETENTION = timedelta(days=30)


async def purge(engine: AsyncEngine, settings: GatewaySettings) -> dict[str, int]:
    now = sa.func.now()
    statements = {
        "idempotency_keys": idempotency_keys.delete().where(
            idempotency_keys.c.created_at < now - timedelta(hours=settings.idempotency_ttl_h)
        ),
        "stream_events": stream_events.delete().where(
            stream_events.c.time < now - timedelta(hours=settings.stream_retention_h)
        ),
        "webhook_deliveries": webhook_deliveries.delete().where(
            webhook_deliveries.c.status != "pending",
            webhook_deliveries.c.created_at < now - LOG_RETENTION,
        ),
        "emails": emails.delete().where(
            emails.c.status != "pending", emails.c.next_attempt_at < now - LOG_RETENTION
        ),
    }
    removed = {}
    async with engine.begin() as conn:
        for name, statement in statements.items():
            removed[name] = (await conn.execute(statement)).rowcount
    return removed


def timer(engine: AsyncEngine, settings: GatewaySettings) -> Any:
    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                removed = await purge(engine, settings)
                if any(removed.values()):
                    log.info("purged old rows", **removed)
            except Exception:
                log.exception("housekeeping failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.housekeeping_interval_s)

    return run
