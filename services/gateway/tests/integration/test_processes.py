"""Two gateway processes on one database: rate limits are shared exactly, and a run's event
stream resumes with Last-Event-ID on the other process without loss.

The run lookup the SSE route makes (`GET /runs/{id}` on automation) is answered by a small
stand-in that checks the gateway's service token and the forwarded account like automation does;
the events themselves travel through the real Kafka broker into both processes' consumers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from gateway_processes import StandIn, gateway_env, read_events
from gateway_support import as_user

from gateway.adapters.sqlalchemy_identity import SqlIdentityStore
from gateway.bootstrap import SERVICE_ROOT
from gateway.domain.model import Role
from igny8.contracts import TOPICS
from igny8.contracts.runs import RunChanged, StageChanged
from igny8.db import create_engine
from igny8.testing import migrated_database, start_service_process, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def proc_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "gateway_proc")


async def member_of_new_account(db: str, user: str) -> uuid.UUID:
    engine = create_engine(db, 2)
    try:
        store = SqlIdentityStore(engine)
        account = uuid.uuid4()
        await store.create_account(account, "Acme", user)
        assert await store.role_of(account, user) is Role.OWNER
    finally:
        await engine.dispose()
    return account


async def test_the_rate_limit_is_exact_across_two_processes(proc_db, kafka_bootstrap, tmp_path):
    env = {"GATEWAY_RATE_LIMIT_BURST": "7", "GATEWAY_RATE_LIMIT_PER_S": "0.001"}
    children = [
        start_service_process(
            "gateway",
            gateway_env(proc_db, kafka_bootstrap, "http://127.0.0.1:9", **env),
            tmp_path / f"gateway{i}.log",
        )
        for i in range(2)
    ]
    try:
        user = f"rl-{uuid.uuid4().hex[:6]}"
        account = await member_of_new_account(proc_db, user)
        headers = as_user(user, account)
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.get(f"{children[i % 2][1]}/v1/members", headers=headers)
                    for i in range(20)
                )
            )
        statuses = [a.status_code for a in answers]
        assert statuses.count(200) == 7, statuses
        assert statuses.count(429) == 13, statuses
        limited = next(a for a in answers if a.status_code == 429)
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["ratelimit-limit"] == "7"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert limited.json()["error"]["type"] == "rate_limit_error"
    finally:
        for child, _ in children:
            child.stop()


async def stored(db: str, send: Any) -> bool:
    """Sends a warm-up event of a throwaway account; whether it reached `stream_events`."""
    event_id = await send(
        "stage.progress",
        StageChanged(run_id=uuid.uuid4(), site_id=uuid.uuid4(), stage=1, name="s1", done=0),
        acct=uuid.uuid4(),
    )
    await asyncio.sleep(0.5)
    engine = create_engine(db, 1)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                sa.text("SELECT count(*) FROM stream_events WHERE event_id = :e"), {"e": event_id}
            )
    finally:
        await engine.dispose()
    return bool(found)


async def test_a_run_stream_resumes_on_the_other_process_and_stays_in_its_account(
    proc_db, kafka_bootstrap, tmp_path
):
    with StandIn() as stand_in:
        upstream = f"http://127.0.0.1:{stand_in.port}"
        children = [
            start_service_process(
                "gateway",
                gateway_env(proc_db, kafka_bootstrap, upstream),
                tmp_path / f"gateway{i}.log",
            )
            for i in range(2)
        ]
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            owner, other = f"o-{uuid.uuid4().hex[:6]}", f"x-{uuid.uuid4().hex[:6]}"
            account = await member_of_new_account(proc_db, owner)
            account_b = await member_of_new_account(proc_db, other)
            run, site = uuid.uuid4(), uuid.uuid4()
            stand_in.objects |= {(str(account), str(run)), (str(account), str(site))}
            stand_in.objects.add((str(account_b), str(site)))  # as if B named the same site

            async def send(topic: str, payload: Any, acct: uuid.UUID = account) -> uuid.UUID:
                envelope = TOPICS.envelope(
                    topic, payload, source="automation", account_id=acct, site_id=site
                )
                await producer.send_and_wait(topic, envelope.to_bytes(), key=str(run).encode())
                return envelope.id

            def stage(n: int, done: int) -> StageChanged:
                return StageChanged(run_id=run, site_id=site, stage=n, name=f"s{n}", done=done)

            def changed(status: str) -> RunChanged:
                return RunChanged(run_id=run, site_id=site, status=status, stages=[1, 2])

            # the replicas share one consumer group: consuming once a warm-up event is stored
            await wait_until(lambda: stored(proc_db, send), 120, interval=1.0)

            first = [("run.started", changed("running")), ("stage.started", stage(1, 0))]
            first += [("stage.progress", stage(1, i)) for i in (1, 2, 3)]
            # a run that gives its slot back to another account and is admitted again (issue 17)
            first += [("run.yielded", changed("queued")), ("run.readmitted", changed("running"))]
            for topic, payload in first:
                await send(topic, payload)
            await send("stage.progress", stage(1, 99), acct=account_b)  # B's, never A's
            headers = as_user(owner, account)
            path = f"/v1/runs/{run}/events"
            async with httpx.AsyncClient(timeout=30) as client:
                seen, ended = await read_events(
                    client, children[0][1] + path, headers, count=3, timeout=30
                )
                assert not ended
                assert len(seen) == 3
                later = [("stage.progress", stage(1, 4)), ("stage.completed", stage(1, 4))]
                later.append(("run.completed", changed("completed")))
                for topic, payload in later:
                    await send(topic, payload)
                resumed, ended = await read_events(
                    client,
                    children[1][1] + path,
                    {**headers, "Last-Event-ID": str(seen[-1][0])},
                    count=None,
                    timeout=30,
                )
                assert ended, "the stream closes after run.completed"
                # topics are consumed independently: the order is the gateway's arrival order
                types = sorted(t for _, t in seen + resumed)
                assert types == sorted(t for t, _ in first + later), types
                ids = [i for i, _ in seen + resumed]
                assert ids == sorted(set(ids))
                # another account: the run is a 404; the same site id streams none of A's events
                foreign = await client.get(children[1][1] + path, headers=as_user(other, account_b))
                assert foreign.status_code == 404
                theirs, _ = await read_events(
                    client,
                    f"{children[0][1]}/v1/sites/{site}/events",
                    as_user(other, account_b),
                    count=1,
                    timeout=10,
                )
                assert [t for _, t in theirs] == ["stage.progress"]
                mine, _ = await read_events(
                    client,
                    f"{children[1][1]}/v1/sites/{site}/events",
                    headers,
                    count=len(first + later),
                    timeout=10,
                )
                assert sorted(t for _, t in mine) == sorted(t for t, _ in first + later)
        finally:
            await producer.stop()
            for child, _ in children:
                child.stop()


async def test_a_restarted_replica_misses_no_event(proc_db, kafka_bootstrap, tmp_path):
    """The replicas' one consumer group resumes from its committed offsets: events published
    while every replica was down are stored and streamed once one comes back (a group per
    replica named at random started at the latest offset and lost them)."""
    with StandIn() as stand_in:
        upstream = f"http://127.0.0.1:{stand_in.port}"
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        first = start_service_process(
            "gateway", gateway_env(proc_db, kafka_bootstrap, upstream), tmp_path / "first.log"
        )
        try:
            owner = f"r-{uuid.uuid4().hex[:6]}"
            account = await member_of_new_account(proc_db, owner)
            run, site = uuid.uuid4(), uuid.uuid4()
            stand_in.objects.add((str(account), str(run)))

            async def send(topic: str, payload: Any, acct: uuid.UUID = account) -> uuid.UUID:
                envelope = TOPICS.envelope(
                    topic, payload, source="automation", account_id=acct, site_id=site
                )
                await producer.send_and_wait(topic, envelope.to_bytes(), key=str(run).encode())
                return envelope.id

            await wait_until(lambda: stored(proc_db, send), 120, interval=1.0)
        finally:
            first[0].stop()
        while_down = [
            ("run.started", RunChanged(run_id=run, site_id=site, status="running", stages=[1])),
        ]
        while_down += [
            ("stage.progress", StageChanged(run_id=run, site_id=site, stage=1, name="s1", done=i))
            for i in range(1, 6)
        ]
        while_down.append(
            ("run.completed", RunChanged(run_id=run, site_id=site, status="completed", stages=[1]))
        )
        for topic, payload in while_down:
            await send(topic, payload)
        second = start_service_process(
            "gateway", gateway_env(proc_db, kafka_bootstrap, upstream), tmp_path / "second.log"
        )
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                seen, ended = await read_events(
                    client,
                    f"{second[1]}/v1/runs/{run}/events",
                    as_user(owner, account),
                    count=None,
                    timeout=60,
                )
            assert ended
            assert sorted(t for _, t in seen) == sorted(t for t, _ in while_down)
        finally:
            await producer.stop()
            second[0].stop()
