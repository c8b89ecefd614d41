"""A batch applied in one transaction answers exactly as its commands applied one by one would.

The same script runs in two worlds on the real database (the same ids under a different
namespace each): in one, every command gets the single-message handler in a transaction of its
own; in the other, the whole script is one call of the batch handler in one transaction. The
replies (topic, payload, the message each answers, in order) and the ledger state they leave
must be identical — across many accounts, retries of commands applied earlier or earlier in the
batch, conflicting parameters, captures beyond the hold, ended reservations, a release before
its reserve, an unknown account, an unknown operation, a lapsed promo grant and a low-balance
crossing.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from billing_driver import Billing

from billing.domain.model import GrantKind
from billing.entrypoints.events import command_batch_handler, command_subscription
from igny8.contracts import TOPICS, Envelope
from igny8.contracts import credits as wire
from igny8.db import session_factory

pytestmark = pytest.mark.integration

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ACCOUNTS = [f"a{n}" for n in range(8)]


def reserve(account: str, reservation: str, *items: tuple[str, int]) -> tuple[Any, ...]:
    return ("reserve", account, reservation, items)


def commit(account: str, reservation: str, commit_id: str, op: str, qty: int) -> tuple[Any, ...]:
    return ("commit", account, reservation, commit_id, op, qty)


def release(account: str, reservation: str) -> tuple[Any, ...]:
    return ("release", account, reservation)


# Applied in an earlier batch (one by one, in both worlds alike).
EARLIER = [
    reserve("a0", "r0", ("clustering", 2)),
    reserve("a1", "r1", ("linking", 3)),
    release("a1", "r1"),
    commit("a0", "r0", "c0", "clustering", 1),
]

SCRIPT = [
    reserve("a0", "r0", ("clustering", 2)),  # retry of an earlier reserve: its reply again
    reserve("a2", "r2", ("content_generation", 1200), ("image_generation", 2)),
    reserve("a3", "r3", ("idea_generation", 5)),
    reserve("a2", "r2", ("content_generation", 1200), ("image_generation", 2)),  # retry
    reserve("a3", "r3", ("idea_generation", 6)),  # same id, other parameters: conflict
    commit("a2", "r2", "c1", "content_generation", 800),
    commit("a2", "r2", "c1", "content_generation", 800),  # retry
    commit("a2", "r2", "c1", "content_generation", 900),  # conflict
    commit("a2", "r2", "c2", "linking", 1),  # not reserved: priced as at the reservation
    commit("a3", "r3", "c3", "idea_generation", 50),  # beyond the hold
    commit("a0", "r0", "c0", "clustering", 1),  # retry of an earlier capture
    commit("a0", "r0", "c4", "clustering", 1),  # captures the rest: r0 ends captured
    commit("a0", "r0", "c5", "clustering", 1),  # reservation ended
    release("a1", "r1"),  # released in the earlier batch: the original reply again
    release("a3", "r3"),
    release("a3", "r3"),  # retry
    commit("a3", "r3", "c6", "idea_generation", 1),  # ended
    release("a4", "r4"),  # before its reserve: unknown, tombstone
    reserve("a4", "r4", ("clustering", 1)),  # refused `released`
    reserve("a5", "r5", ("teleportation", 1)),  # unknown operation
    reserve("a9", "r9", ("clustering", 1)),  # unknown account
    commit("a9", "r9", "c9", "clustering", 1),
    reserve("a6", "r6a", ("clustering", 4)),  # 40 of 50: crosses the low-balance threshold
    reserve("a6", "r6b", ("clustering", 2)),  # 20 more than left: insufficient
    reserve("a7", "r7", ("clustering", 1)),  # its promo grant lapsed: insufficient, expired
    commit("a5", "r2", "c7", "clustering", 1),  # another account's reservation
    reserve("a5", "r5b", ("linking", 1)),
    release("a5", "r5b"),
    reserve("a5", "r5b", ("linking", 1)),  # retry after its release: the reserved reply
    release("a2", "r2"),
]


class World:
    def __init__(self, billing: Billing, name: str) -> None:
        self.billing = billing
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{name}-{uuid.uuid4()}")
        self.names: dict[str, str] = {}
        self.sent: list[Envelope] = []

    def id(self, name: str) -> uuid.UUID:
        value = uuid.uuid5(self.namespace, name)
        self.names[str(value)] = name
        return value

    def envelope(self, step: tuple[Any, ...]) -> tuple[Envelope, Any]:
        kind, account, reservation = step[0], self.id(step[1]), self.id(step[2])
        payload: Any
        if kind == "reserve":
            payload = wire.ReserveCredits(
                reservation_id=reservation,
                items=[wire.ReserveItem(operation=o, quantity=q) for o, q in step[3]],
            )
        elif kind == "commit":
            payload = wire.CommitCredits(
                reservation_id=reservation,
                commit_id=self.id(step[3]),
                operation=step[4],
                quantity=step[5],
            )
        else:
            payload = wire.ReleaseCredits(reservation_id=reservation)
        envelope = TOPICS.envelope(
            f"credit.{kind}",
            payload,
            source="automation",
            account_id=account,
            correlation_id=f"run-{len(self.sent)}",
        )
        self.names[str(envelope.id)] = f"message{len(self.sent)}"
        self.sent.append(envelope)
        return envelope, payload

    def named(self, value: Any) -> Any:
        text = json.dumps(value, sort_keys=True, default=str)
        return json.loads(UUID.sub(lambda m: self.names.get(m.group(), m.group()), text))

    async def open(self) -> None:
        billing = self.billing
        for name in ACCOUNTS:
            account = self.id(name)
            async with billing.sessions() as session, session.begin():
                await session.execute(
                    sa.text(
                        "INSERT INTO billing_accounts (account_id, low_balance_threshold) "
                        "VALUES (:a, :t)"
                    ),
                    {"a": account, "t": 30 if name == "a6" else None},
                )
            credits = {"a6": 50, "a7": 0}.get(name, 500)
            if credits:
                await billing.grant(account, credits)
        await billing.grant(self.id("a7"), 30, GrantKind.PROMO, expires_in=60)

    async def one_by_one(self, steps: list[tuple[Any, ...]]) -> None:
        handler = command_subscription(self.billing.clock, self.billing.policy).handler
        for step in steps:
            envelope, payload = self.envelope(step)
            async with self.billing.sessions() as session, session.begin():
                await handler(envelope, payload, session)

    async def as_one_batch(self, steps: list[tuple[Any, ...]]) -> None:
        handler = command_batch_handler(self.billing.clock, self.billing.policy)
        messages = [self.envelope(step) for step in steps]
        async with self.billing.sessions() as session, session.begin():
            await handler(messages, session)

    async def replies(self, since: int) -> list[Any]:
        ids = [str(e.id) for e in self.sent[since:]]
        async with self.billing.engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT topic, value FROM outbox WHERE topic <> 'credit.granted' ORDER BY id"
                )
            )
            mine = [(r.topic, json.loads(r.value)) for r in rows]
        return [
            self.named([topic, value["causation_id"], value["correlation_id"], value["data"]])
            for topic, value in mine
            if value["causation_id"] in ids
        ]

    async def state(self) -> Any:
        accounts = [self.id(a) for a in ACCOUNTS]
        queries = {
            "accounts": "SELECT account_id, available, held, low_balance_alerted "
            "FROM billing_accounts WHERE account_id = ANY(:a) ORDER BY available, held",
            "grants": "SELECT account_id, kind, credits, available, held, swept FROM grants "
            "WHERE account_id = ANY(:a) ORDER BY account_id::text, credits",
            "reservations": "SELECT reservation_id, account_id, status, credits, captured, "
            "released, prices, outcome_topic, outcome, end_outcome, ended_at IS NULL AS open "
            "FROM reservations WHERE account_id = ANY(:a) ORDER BY reservation_id",
            "holds": "SELECT h.reservation_id, h.amount FROM reservation_holds h JOIN "
            "reservations r USING (reservation_id) WHERE r.account_id = ANY(:a) ORDER BY 1",
            "movements": "SELECT t.account_id, t.kind, t.reference, e.book, e.amount, "
            "e.balance_after FROM ledger_transactions t JOIN ledger_entries e USING "
            "(transaction_id) WHERE t.account_id = ANY(:a) AND t.kind <> 'grant' "
            "ORDER BY t.seq, e.book, e.amount",
            "captures": "SELECT commit_id, reservation_id, account_id, outcome FROM captures "
            "WHERE account_id = ANY(:a) ORDER BY commit_id",
            "usage": "SELECT commit_id, operation, quantity, credits FROM usage_log "
            "WHERE account_id = ANY(:a) ORDER BY commit_id",
            "tombstones": "SELECT account_id, reservation_id FROM release_tombstones "
            "WHERE account_id = ANY(:a)",
        }
        state = {}
        async with self.billing.engine.connect() as conn:
            grants = await conn.execute(
                sa.text(
                    "SELECT grant_id, account_id, kind, credits FROM grants "
                    "WHERE account_id = ANY(:a)"
                ),
                {"a": accounts},
            )
            for g in grants:  # grant ids are random: name them after what they are
                self.names[str(g.grant_id)] = (
                    f"{self.names[str(g.account_id)]}-{g.kind}-{g.credits}"
                )
            for name, sql in queries.items():
                rows = await conn.execute(sa.text(sql), {"a": accounts})
                state[name] = [list(r) for r in rows]
        named = self.named(state)
        for rows in named.values():  # ids sorted as uuids in the query: sort by their names
            rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
        return named


async def test_a_batch_answers_exactly_as_its_commands_applied_one_by_one(engine):
    clock_at = None
    worlds = []
    for name in ("one_by_one", "batch"):
        billing = Billing(engine)
        if clock_at is not None:
            billing.clock.at = clock_at
        clock_at = billing.clock.at
        world = World(billing, name)
        await world.open()
        await world.one_by_one(EARLIER)
        billing.clock.advance(120)  # a7's promo grant lapses
        worlds.append(world)
    one, batch = worlds

    await one.one_by_one(SCRIPT)
    await batch.as_one_batch(SCRIPT)

    expected = await one.replies(len(EARLIER))
    replies = await batch.replies(len(EARLIER))
    assert len(expected) >= len(SCRIPT)  # every command answered, plus balance.low
    assert {r[0] for r in expected} >= {
        "credit.reserved",
        "credit.rejected",
        "credit.committed",
        "credit.released",
        "credit.command_failed",
        "balance.low",
    }
    reasons = {r[3].get("reason") for r in expected}
    assert {
        "conflict",
        "hold_exceeded",
        "reservation_ended",
        "unknown_reservation",
        "released",
        "unknown_operation",
        "unknown_account",
        "insufficient_credits",
    } <= reasons
    assert replies == expected
    assert await batch.state() == await one.state()
    assert await batch.billing.violations() == {}


async def test_a_batch_locks_each_account_once_in_account_order(engine):
    """Two batches over the same accounts in opposite orders, side by side, both complete."""
    import asyncio

    billing = Billing(engine)
    accounts = [await billing.open(credits=1000) for _ in range(6)]
    handler = command_batch_handler(billing.clock, billing.policy)
    sessions = session_factory(engine)

    def batch(order: list[uuid.UUID]) -> list[tuple[Envelope, Any]]:
        out = []
        for account in order * 3:
            payload = wire.ReserveCredits(
                reservation_id=uuid.uuid4(),
                items=[wire.ReserveItem(operation="clustering", quantity=1)],
            )
            out.append(
                (
                    TOPICS.envelope(
                        "credit.reserve", payload, source="automation", account_id=account
                    ),
                    payload,
                )
            )
        return out

    async def apply(messages: list[tuple[Envelope, Any]]) -> None:
        async with sessions() as session, session.begin():
            await handler(messages, session)
            await asyncio.sleep(0.05)  # hold the locks a while

    await asyncio.gather(*(apply(batch(o)) for o in (accounts, accounts[::-1]) * 3))
    for account in accounts:
        assert await billing.balance(account) == (1000 - 6 * 3 * 10, 6 * 3 * 10)


async def test_the_batch_read_evaluates_each_id_array_once_even_in_a_sequential_scan(engine):
    """A bare `= ANY(CAST(CAST(:p AS text) AS uuid[]))` is no constant (the cast is only stable):
    a plan that filters rows with it parses the whole array again per row — PostgreSQL's CPU per
    command x5 in bench/billing_ledger.py whenever a plan scanned. With sequential scans forced,
    every array must be an init plan (computed once), never in a row filter."""
    from billing.adapters.sqlalchemy_ledger_batch import _READ

    ids = "{" + ",".join(str(uuid.uuid4()) for _ in range(50)) + "}"
    async with engine.connect() as conn:
        await conn.execute(sa.text("SET LOCAL enable_indexscan = off"))
        await conn.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(
            row[0]
            for row in await conn.execute(
                sa.text(f"EXPLAIN (VERBOSE) {_READ.text}"),
                {"accounts": ids, "reservations": ids, "commits": ids},
            )
        )
    filters = [line for line in plan.splitlines() if "Filter:" in line and "ANY" in line]
    assert len(filters) == 5, plan  # each table's scan filters by its ids
    # Evaluated once: the filter compares with an init plan's value (`= ANY ($2)`); a bare cast
    # shows as the array's text converted in the filter (`… ::cstring)::uuid[]`), i.e. per row.
    assert all("::uuid[]" not in f and "cstring" not in f for f in filters), plan
