"""End to end over Kafka with crashes: 2,000 credit commands, each delivered 1-3 times (transport
duplicates and retries under new envelope ids), while the billing process is SIGKILLed and
restarted. Every command has exactly one effect, every retry gets the original outcome, every
reservation ends, the ledger audits clean and nothing is left in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sys
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from billing_driver import Billing

from igny8.contracts import TOPICS, Envelope
from igny8.contracts import credits as wire
from igny8.testing import ChildProcess, topic_records

pytestmark = pytest.mark.integration
REPLY_TOPICS = (
    "credit.reserved",
    "credit.rejected",
    "credit.committed",
    "credit.released",
    "credit.command_failed",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command_stream(
    accounts: list[uuid.UUID], rng: random.Random
) -> dict[uuid.UUID, list[Envelope]]:
    """Per account: reserve → two commits → release for each of 25 reservations (2,000 in all)."""
    streams: dict[uuid.UUID, list[Envelope]] = {}
    for account in accounts:
        stream = []
        for _ in range(25):
            reservation = uuid.uuid4()
            requests = rng.choice([2, 3])
            stream.append(
                TOPICS.envelope(
                    "credit.reserve",
                    wire.ReserveCredits(
                        reservation_id=reservation,
                        items=[wire.ReserveItem(operation="clustering", quantity=requests)],
                    ),
                    source="automation",
                    account_id=account,
                    correlation_id=str(reservation),
                )
            )
            for _ in range(2):
                stream.append(
                    TOPICS.envelope(
                        "credit.commit",
                        wire.CommitCredits(
                            reservation_id=reservation,
                            commit_id=uuid.uuid4(),
                            operation="clustering",
                            quantity=1,
                        ),
                        source="automation",
                        account_id=account,
                        correlation_id=str(reservation),
                    )
                )
            stream.append(
                TOPICS.envelope(
                    "credit.release",
                    wire.ReleaseCredits(reservation_id=reservation),
                    source="automation",
                    account_id=account,
                    correlation_id=str(reservation),
                )
            )
        streams[account] = stream
    return streams


def deliveries(stream: list[Envelope], rng: random.Random) -> list[Envelope]:
    """Each command 1-3 times: the original, then transport duplicates (same envelope) or retries
    (same command, new envelope id), always after the original and in the account's order."""
    out: list[Envelope] = []
    pending: list[Envelope] = []
    for envelope in stream:
        out.append(envelope)
        for _ in range(rng.choice([0, 1, 2])):
            if rng.random() < 0.5:
                pending.append(envelope)
            else:
                pending.append(envelope.model_copy(update={"id": uuid.uuid4()}))
        rng.shuffle(pending)
        while pending and rng.random() < 0.6:
            out.append(pending.pop())
    return out + pending


def command_key(envelope: Envelope) -> tuple[str, str]:
    if envelope.type == "credit.commit":
        return envelope.type, envelope.data["commit_id"]
    return envelope.type, envelope.data["reservation_id"]


async def test_2000_commands_with_duplicates_retries_and_killed_billing_have_exactly_one_effect(
    billing_db, engine, kafka_bootstrap, tmp_path
):
    rng = random.Random(20261126)
    billing = Billing(engine)
    accounts = [await billing.open(credits=rng.choice([300, 450, 600])) for _ in range(20)]
    streams = command_stream(accounts, rng)
    commands = [e for s in streams.values() for e in s]
    assert len(commands) == 2000
    sent = [d for s in streams.values() for d in deliveries(s, rng)]
    distinct_envelopes = {e.id for e in sent}
    assert len(sent) > len(distinct_envelopes) > len(commands), "duplicates and retries both occur"

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, linger_ms=5, enable_idempotence=True
    )
    await producer.start()
    try:
        for envelope in sent:
            spec = TOPICS[envelope.type]
            await producer.send(envelope.type, envelope.to_bytes(), key=spec.key_of(envelope))
        await producer.flush()
    finally:
        await producer.stop()

    port = free_port()
    env = {
        "BILLING_DATABASE_URL": billing_db,
        "BILLING_HTTP_PORT": str(port),
        "BILLING_MIGRATE_ON_START": "false",
        "BILLING_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "BILLING_SWEEP_INTERVAL_S": "1",
    }
    binary = str(Path(sys.executable).parent / "billing")

    async def handled() -> int:
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.text("SELECT count(*) FROM inbox WHERE consumer = 'billing.commands'")
                    )
                ).scalar()
            )

    kills = 0
    for threshold in (400, 1200, 2000, 2800):
        process = ChildProcess([binary, "serve"], tmp_path / f"billing-{kills}.log", env)
        for _ in range(1200):
            if await handled() >= threshold or process.proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        assert process.proc.poll() is None, process.output()[-3000:]
        process.kill()
        kills += 1
    assert kills >= 3

    final = ChildProcess([binary, "serve"], tmp_path / "billing-final.log", env)
    try:
        for _ in range(2400):
            if await handled() >= len(distinct_envelopes):
                break
            await asyncio.sleep(0.05)
        assert await handled() == len(distinct_envelopes), final.output()[-3000:]

        ours = {str(a) for a in accounts}
        replies: dict[str, dict[str, dict]] = defaultdict(dict)  # causation → reply id → data
        for _ in range(300):
            replies.clear()
            for topic in REPLY_TOPICS:
                for record in await topic_records(kafka_bootstrap, topic):
                    reply = json.loads(record.value)
                    if reply["account_id"] in ours:
                        replies[reply["causation_id"]][reply["id"]] = (reply["type"], reply["data"])
            if all(str(e) in replies for e in distinct_envelopes):
                break
            await asyncio.sleep(0.2)
        async with engine.connect() as conn:
            unsent = (
                await conn.execute(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
            ).scalar()
            active = (
                await conn.execute(
                    sa.text("SELECT count(*) FROM reservations WHERE status = 'active'")
                )
            ).scalar()
            effects = dict(
                (
                    await conn.execute(
                        sa.text(
                            "SELECT 'reservations', count(*) FROM reservations UNION ALL "
                            "SELECT 'captures', count(*) FROM captures"
                        )
                    )
                ).all()
            )
    finally:
        final.stop()

    # One reply per distinct delivery (a relay replay repeats the same reply id, never a new one).
    assert {str(e) for e in distinct_envelopes} <= set(replies)
    assert all(len(r) == 1 for r in replies.values())
    # Every retry of a command got the original outcome, payload for payload.
    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for envelope in sent:
        (reply,) = replies[str(envelope.id)].values()
        outcomes[command_key(envelope)].add(json.dumps(reply, sort_keys=True))
    assert len(outcomes) == 2000
    assert all(len(o) == 1 for o in outcomes.values()), "a retry got another outcome"
    # Exactly one effect per command.
    reserved = [k for k, o in outcomes.items() if k[0] == "credit.reserve"]
    committed = [
        k
        for k, o in outcomes.items()
        if k[0] == "credit.commit" and '"credit.committed"' in next(iter(o))
    ]
    assert effects == {"reservations": len(reserved), "captures": len(committed)}
    rejected = [k for k, o in outcomes.items() if '"credit.rejected"' in next(iter(o))]
    assert rejected, "some reserves must have been refused for lack of credits"
    assert active == 0, "every reservation ended"
    assert await billing.violations() == {}
    assert unsent == 0, "nothing stuck in the outbox"
