"""Kafka stops while the service keeps writing: rows wait in the outbox, all arrive once it is back.

Runs on a broker of its own (a second private KRaft node), so stopping it disturbs no other test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from igny8.db import session_factory
from igny8.messaging import ensure_topics
from igny8.testing import free_port, wait_until

import ping_app
from ping_app import effect_rows, unsent

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def own_broker(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "IGNY8_INFRA_DIR": str(tmp_path / "infra"),
        "IGNY8_KAFKA_PORT": str(port),
        "IGNY8_KAFKA_CONTROLLER_PORT": str(free_port()),
    }

    def ctl(command: str) -> None:
        subprocess.run(
            [sys.executable, str(ROOT / "infra" / "local.py"), command],
            env=env,
            check=True,
            capture_output=True,
        )

    ctl("kafka-up")
    yield f"127.0.0.1:{port}", ctl
    ctl("kafka-down")


async def test_rows_wait_in_the_outbox_while_kafka_is_down_and_all_arrive_after(
    db_url, engine, own_broker, spawn
):
    bootstrap, ctl = own_broker
    topic = f"test.outage.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, ping_app.registry(topic))
    account = uuid.uuid4()
    sessions = session_factory(engine)

    async def write(seq: int) -> None:
        async with sessions() as session:
            await ping_app.write_pings(session, topic, [ping_app.ping(topic, account, seq)])
            await session.commit()

    consumer = spawn("consume", "--db", db_url, "--bootstrap", bootstrap, "--topic", topic)
    relay = spawn("relay", "--db", db_url, "--bootstrap", bootstrap)
    consumer.wait_for_output("consumer started")
    relay.wait_for_output("relay started")
    for seq in range(10):
        await write(seq)

    async def applied(n: int) -> bool:
        return len(await effect_rows(engine)) >= n

    await wait_until(lambda: applied(10), 60)

    ctl("kafka-down")
    for seq in range(10, 60):  # the service keeps writing while the broker is gone
        await write(seq)
    relay.wait_for_output("cannot publish", 60)
    assert await unsent(engine) == 50

    ctl("kafka-up")
    await wait_until(lambda: applied(60), 120, message="rows written during the outage were lost")

    async def drained() -> bool:
        return await unsent(engine) == 0

    await wait_until(drained, 30)
    rows = await effect_rows(engine)
    assert sorted(r.seq for r in rows) == list(range(60))
    assert [r.seq for r in rows] == list(range(60)), "order per key survives the outage"
