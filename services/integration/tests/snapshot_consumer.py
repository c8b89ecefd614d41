"""A consumer of integration's entity events in a process of its own (test support): it keeps
the newest snapshot of every site and integration, as automation and publishing will."""

from __future__ import annotations

import argparse
import asyncio
import signal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import TOPICS, Envelope
from igny8.contracts.sites import IntegrationSnapshot, SiteSnapshot
from igny8.db import create_engine, new_metadata, session_factory
from igny8.messaging import Messaging, Subscription, include_messaging_tables, keep_newest
from igny8.observability import configure

metadata = new_metadata()
include_messaging_tables(metadata)
known_sites = sa.Table(
    "known_sites",
    metadata,
    sa.Column("site_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
)
known_integrations = sa.Table(
    "known_integrations",
    metadata,
    sa.Column("integration_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("site_id", UUID(as_uuid=True), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
)
SITE_TOPICS = ("site.created", "site.updated", "site.deleted")
INTEGRATION_TOPICS = (
    "integration.connected",
    "integration.updated",
    "integration.removed",
    "integration.health_changed",
)


async def create_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
    if isinstance(payload, SiteSnapshot):
        await keep_newest(
            session,
            known_sites,
            {
                "site_id": payload.site_id,
                "account_id": payload.account_id,
                "version": payload.version,
                "deleted": payload.deleted,
                "name": payload.name,
            },
        )
    elif isinstance(payload, IntegrationSnapshot):
        await keep_newest(
            session,
            known_integrations,
            {
                "integration_id": payload.integration_id,
                "site_id": payload.site_id,
                "version": payload.version,
                "deleted": payload.deleted,
                "platform": payload.platform,
            },
        )


async def run(args: argparse.Namespace) -> None:
    engine = create_engine(args.db, 5)
    messaging = Messaging(
        "snapshots", args.bootstrap, engine, session_factory(engine), registry=TOPICS
    )
    messaging.subscribe([Subscription(SITE_TOPICS + INTEGRATION_TOPICS, args.purpose, handle)])
    await messaging.start(consume=True, relay=False)
    print("consumer started", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await messaging.stop()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--purpose", required=True)
    configure("snapshots")
    asyncio.run(run(parser.parse_args()))
