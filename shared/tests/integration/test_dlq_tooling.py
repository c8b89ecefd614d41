"""`igny8 dlq`: list and filter dead letters, show one, replay to the group that parked it only,
purge; every dead letter is counted per topic in Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from igny8.db import session_factory
from igny8.messaging import ConsumerSettings, InboxConsumer, Subscription
from igny8.testing import count_records, topic_records, wait_until

import ping_app
from ping_app import effect_rows

pytestmark = pytest.mark.integration


def igny8(bootstrap: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "igny8.cli", "dlq", *args],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done


def listed(bootstrap: str, topic: str, *filters: str) -> list[dict]:
    out = igny8(bootstrap, "list", "--topic", topic, "--json", *filters).stdout
    return [json.loads(line) for line in out.splitlines()]


async def test_dead_letters_are_listed_filtered_replayed_to_their_group_only_and_purged(
    db_url, engine, topic, kafka_bootstrap, spawn, tmp_path
):
    account = uuid.uuid4()
    key = str(account).encode()
    broken = tmp_path / "bug-in-a"  # consumer a's handler fails on fail=true while it exists
    broken.touch()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for value in (
            b"\x00 not json",
            ping_app.ping(topic, account, 1, fail=True).to_bytes(),
            ping_app.ping(topic, account, 2).to_bytes(),
        ):
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    common = ("--db", db_url, "--bootstrap", kafka_bootstrap, "--topic", topic)
    a = spawn("consume", *common, "--purpose", "a", "--fail-while", str(broken), log="a")
    b = spawn("consume", *common, "--purpose", "b", "--fail-while", str(tmp_path / "x"), log="b")
    a.wait_for_output("consumer started")
    b.wait_for_output("consumer started")

    async def effects_by(child) -> list[int]:  # type: ignore[no-untyped-def]
        return sorted(r.seq for r in await effect_rows(engine) if r.pid == child.proc.pid)

    async def settled() -> bool:
        return (
            await effects_by(a) == [2]
            and await effects_by(b) == [1, 2]
            and await count_records(kafka_bootstrap, f"{topic}.dlq") == 3
        )

    await wait_until(settled, 60)

    everything = listed(kafka_bootstrap, topic)
    assert sorted((d["consumer"], d["reason"]) for d in everything) == [
        ("pinger.a", "handler_failed"),
        ("pinger.a", "undecodable"),
        ("pinger.b", "undecodable"),
    ]
    (failed,) = listed(kafka_bootstrap, topic, "--reason", "handler_failed")
    assert "always fails" in failed["error"] and failed["attempts"] == "3"
    assert len(listed(kafka_bootstrap, f"{topic}.dlq", "--consumer", "pinger.a")) == 2
    assert len(listed(kafka_bootstrap, topic, "--key", str(account))) == 3
    assert listed(kafka_bootstrap, topic, "--key", str(uuid.uuid4())) == []
    assert listed(kafka_bootstrap, topic, "--since", "1h") != []
    assert listed(kafka_bootstrap, topic, "--until", "1h") == []
    shown = json.loads(
        igny8(kafka_bootstrap, "show", "--topic", topic, "--at", failed["at"]).stdout
    )
    assert shown["value"]["data"] == {"seq": 1, "fail": True}
    assert shown["headers"]["dlq-original-topic"] == topic

    broken.unlink()  # the bug is fixed; replay what a dead-lettered
    replayed = igny8(
        kafka_bootstrap, "replay", "--topic", topic, "--reason", "handler_failed", "--by", "ops-ann"
    )
    (audit,) = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert (audit["by"], audit["for"], audit["dead_letter"]) == (
        "ops-ann",
        "pinger.a",
        f"{topic}.dlq:{failed['at']}",
    )
    await wait_until(lambda: _equal(effects_by(a), [1, 2]), 60, message="replay not applied")
    assert await effects_by(b) == [1, 2], "the other group skips the replay"
    a.wait_for_output('"by": "ops-ann"')  # the consumer logs who replayed what
    b.wait_for_output("consumer started")
    replays = [r for r in await topic_records(kafka_bootstrap, topic) if r.headers]
    headers = {k: v.decode() for k, v in replays[-1].headers}
    assert (headers["igny8-replay-for"], headers["igny8-replay-by"]) == ("pinger.a", "ops-ann")

    # Replaying b's undecodable letter: b parks it again (still garbage), a does not see it.
    igny8(kafka_bootstrap, "replay", "--topic", topic, "--consumer", "pinger.b", "--by", "ops")
    await wait_until(lambda: _count(kafka_bootstrap, f"{topic}.dlq", 4), 60)
    assert sorted(d["consumer"] for d in listed(kafka_bootstrap, topic)) == [
        "pinger.a",
        "pinger.a",
        "pinger.b",
        "pinger.b",
    ]

    igny8(kafka_bootstrap, "purge", "--topic", topic, "--all")
    assert listed(kafka_bootstrap, topic) == []


async def test_dead_letters_are_counted_per_topic(engine, topic):
    published: list[str] = []

    class Broker:
        async def publish(self, value, topic, key, headers) -> None:  # type: ignore[no-untyped-def]
            published.append(topic)

    async def never(envelope, payload, session) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("not reached")

    consumer = InboxConsumer(
        "counter",
        Subscription((topic,), "c", never),
        ping_app.registry(topic),
        session_factory(engine),
        Broker(),  # type: ignore[arg-type]
        ConsumerSettings(),
    )
    labels = {"consumer": "counter.c", "topic": topic, "reason": "undecodable"}
    before = REGISTRY.get_sample_value("igny8_messages_dead_lettered_total", labels) or 0
    garbage = SimpleNamespace(topic=topic, partition=0, offset=3, key=b"k", value=b"?", headers=[])
    assert await consumer.handle(garbage) == "dead_lettered"  # type: ignore[arg-type]
    assert REGISTRY.get_sample_value("igny8_messages_dead_lettered_total", labels) == before + 1
    assert published == [f"{topic}.dlq"]


async def _equal(coro, expected) -> bool:  # type: ignore[no-untyped-def]
    return await coro == expected


async def _count(bootstrap: str, topic: str, n: int) -> bool:
    return await count_records(bootstrap, topic) == n
