"""End to end over Kafka with crashes: 2,000 credit commands, each delivered 1-3 times (transport
duplicates and retries under new envelope ids), while the billing process is SIGKILLed and
restarted. Every command has exactly one effect, every retry gets the original outcome, every
reservation ends, the ledger audits clean and nothing is left in the outbox.
"""

from __future__ import annotations

import asyncio
import json
import random
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
from igny8.messaging import ensure_topics
from igny8.testing import ChildProcess, free_port, topic_records

pytestmark = pytest.mark.integration
REPLY_TOPICS = (
    "credit.reserved",
    "credit.rejected",
    "credit.committed",
    "credit.released",
    "credit.command_failed",
)


def command_phases(accounts: list[uuid.UUID], rng: random.Random) -> list[list[Envelope]]:
    """500 reservations of 20 accounts: reserves, then two commits each, then releases — 2,000
    commands. Separate topics carry no order between them, so (as any client of the saga must)
    a phase starts only once the previous phase's replies are in."""
    reserves, commits, releases = [], [], []
    for account in accounts:
        for _ in range(25):
            reservation = uuid.uuid4()
            common = {
                "source": "automation",
                "account_id": account,
                "correlation_id": str(reservation),
            }
            reserves.append(
                TOPICS.envelope(
                    "credit.reserve",
                    wire.ReserveCredits(
                        reservation_id=reservation,
                        items=[
                            wire.ReserveItem(operation="clustering", quantity=rng.choice([2, 3]))
                        ],
                    ),
                    **common,
                )
            )
            commits += [
                TOPICS.envelope(
                    "credit.commit",
                    wire.CommitCredits(
                        reservation_id=reservation,
                        commit_id=uuid.uuid4(),
                        operation="clustering",
                        quantity=1,
                    ),
                    **common,
                )
                for _ in range(2)
            ]
            releases.append(
                TOPICS.envelope(
                    "credit.release", wire.ReleaseCredits(reservation_id=reservation), **common
                )
            )
    return [reserves, commits, releases]


def deliveries(phase: list[Envelope], rng: random.Random) -> tuple[list[Envelope], list[Envelope]]:
    """Each command 1-3 times: the original, then transport duplicates (same envelope) or retries
    (same command, new envelope id) later in the phase; some retries are held back for a later
    phase (a late retry must still get the original outcome)."""
    out: list[Envelope] = []
    late: list[Envelope] = []
    pending: list[Envelope] = []
    for envelope in phase:
        out.append(envelope)
        for _ in range(rng.choice([0, 1, 2])):
            copy = (
                envelope if rng.random() < 0.5 else envelope.model_copy(update={"id": uuid.uuid4()})
            )
            (late if rng.random() < 0.15 else pending).append(copy)
        rng.shuffle(pending)
        while pending and rng.random() < 0.6:
            out.append(pending.pop())
    return out + pending, late


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
    phases = command_phases(accounts, rng)
    await ensure_topics(kafka_bootstrap, TOPICS)  # a client may be up before billing ever was
    assert sum(len(p) for p in phases) == 2000
    port = free_port()
    env = {
        "BILLING_DATABASE_URL": billing_db,
        "BILLING_HTTP_PORT": str(port),
        "BILLING_MIGRATE_ON_START": "false",
        "BILLING_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "BILLING_SWEEP_INTERVAL_S": "1",
    }
    binary = str(Path(sys.executable).parent / "billing")
    ours = {str(a) for a in accounts}
    replies: dict[str, dict[str, tuple]] = defaultdict(dict)  # causation → reply id → reply

    async def handled() -> int:
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        sa.text("SELECT count(*) FROM inbox WHERE consumer = 'billing.commands'")
                    )
                ).scalar()
            )

    async def crash_repeatedly() -> ChildProcess:
        """Run billing, SIGKILL it as it passes each threshold, leave the last one running."""
        for kills, threshold in enumerate((500, 1300, 2100, 2900)):
            process = ChildProcess([binary, "serve"], tmp_path / f"billing-{kills}.log", env)
            while await handled() < threshold and process.proc.poll() is None:
                await asyncio.sleep(0.05)
            assert process.proc.poll() is None, process.output()[-3000:]
            process.kill()
        return ChildProcess([binary, "serve"], tmp_path / "billing-final.log", env)

    async def collect_replies() -> None:
        for topic in REPLY_TOPICS:
            for record in await topic_records(kafka_bootstrap, topic):
                reply = json.loads(record.value)
                if reply["account_id"] in ours:
                    replies[reply["causation_id"]][reply["id"]] = (reply["type"], reply["data"])

    async def send(envelopes: list[Envelope]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, linger_ms=5, enable_idempotence=True
        )
        await producer.start()
        try:
            for envelope in envelopes:
                await producer.send(
                    envelope.type, envelope.to_bytes(), key=TOPICS[envelope.type].key_of(envelope)
                )
            await producer.flush()
        finally:
            await producer.stop()

    crasher = asyncio.create_task(crash_repeatedly())
    sent: list[Envelope] = []
    held_back: list[Envelope] = []
    try:
        for phase in phases:
            now, late = deliveries(phase, rng)
            batch = now + held_back
            held_back = late
            await send(batch)
            sent += batch
            for _ in range(1500):  # replies to every delivery of this phase, then the next
                await collect_replies()
                if all(str(e.id) in replies for e in batch):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("replies missing for a phase")
        await send(held_back)
        sent += held_back
        final = await asyncio.wait_for(crasher, 300)
    except BaseException:
        crasher.cancel()
        raise
    distinct_envelopes = {e.id for e in sent}
    assert len(sent) > len(distinct_envelopes) > 2000, "duplicates and retries both occur"
    try:
        for _ in range(2400):
            if await handled() >= len(distinct_envelopes):
                break
            await asyncio.sleep(0.05)
        assert await handled() == len(distinct_envelopes), final.output()[-3000:]
        for _ in range(300):
            await collect_replies()
            if all(str(e) in replies for e in distinct_envelopes):
                break
            await asyncio.sleep(0.2)
        keys = [str(a).encode() for a in accounts]
        async with engine.connect() as conn:  # this test's accounts only: the database is shared
            unsent = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND key = ANY(:keys)"
                    ),
                    {"keys": keys},
                )
            ).scalar()
            active = (
                await conn.execute(
                    sa.text(
                        "SELECT count(*) FROM reservations "
                        "WHERE status = 'active' AND account_id = ANY(:a)"
                    ),
                    {"a": accounts},
                )
            ).scalar()
            effects = dict(
                (
                    await conn.execute(
                        sa.text(
                            "SELECT 'reservations', count(*) FROM reservations "
                            "WHERE account_id = ANY(:a) UNION ALL "
                            "SELECT 'captures', count(*) FROM captures WHERE account_id = ANY(:a)"
                        ),
                        {"a": accounts},
                    )
                ).all()
            )
    finally:
        final.stop()
    assert sum(1 for f in tmp_path.glob("billing-*.log")) >= 4, (
        "billing was killed at least 3 times"
    )

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
