"""A unit of work for a batch of ledger commands: read once up front, write once at the end.

`load_batch` locks the batch's accounts in one statement (`ORDER BY account_id FOR UPDATE`: the
rows are locked in that order, so two batches touching the same accounts queue instead of
deadlocking) and reads their live grants, the reservations (with holds), captures and release
tombstones the commands name, and the cost table's version — one query each. The repositories
below then answer the use cases from memory and record what they change; `flush` writes it all —
one multi-row part per table, and every reply into the outbox — as one statement (one round trip,
`statements.run_together`), which also raises the relay's wake-up. Nothing commits
here: the consumer's transaction (which also holds the inbox rows) does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import sqlalchemy_ledger_statements as statements
from billing.adapters.in_memory_ledger_batch import (
    BatchLedgers,
    BatchPrices,
    BatchReservations,
    BatchState,
    BatchUsage,
)
from billing.adapters.sqlalchemy_price_cache import PRICES
from billing.adapters.sqlalchemy_repositories import (
    grant_from_row,
    price_json,
    reservation_from_row,
)
from billing.adapters.sqlalchemy_tables import billing_accounts
from billing.domain.model import AccountLedger, BillingAccount, Hold, Reservation
from billing.ports import Capture, StoredOutcome, UsageRecord
from igny8.contracts import TOPICS
from igny8.db import SqlAlchemyUnitOfWork
from igny8.messaging.outbox import INSERT_ROWS, WAKE_RELAY, OutboxWriter


@dataclass(frozen=True)
class _Mark:
    account_id: uuid.UUID
    changes: int
    emitted: int
    balance: tuple[int, int] | None


class SqlAlchemyLedgerBatch(SqlAlchemyUnitOfWork):
    """LedgerBatchUnitOfWork on the consumer's session (joined: it never commits)."""

    source = "billing"

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session=session)
        self._state = BatchState()
        self.ledger = BatchLedgers(self._state)
        self.reservations = BatchReservations(self._state)
        self.prices = BatchPrices(session, self._state)
        self.usage = BatchUsage(self._state)

    # -- reading ------------------------------------------------------------------------------

    async def load_batch(
        self,
        accounts: Sequence[uuid.UUID],
        reservation_ids: Sequence[uuid.UUID],
        commit_ids: Sequence[uuid.UUID],
    ) -> None:
        state, session = self._state, self.session
        locked = await session.execute(
            sa.select(billing_accounts)
            .where(_any_of("billing_accounts.account_id", accounts))
            .order_by(billing_accounts.c.account_id)
            .with_for_update()
        )
        now = datetime.min
        for row in locked:
            account = BillingAccount(
                account_id=row.account_id,
                available=row.available,
                held=row.held,
                low_balance_threshold=row.low_balance_threshold,
                low_balance_alerted=row.low_balance_alerted,
            )
            state.ledgers[row.account_id] = AccountLedger(account, [], now)
        # Everything else in one statement after the lock (a statement's snapshot is taken when
        # it starts, so these reads see the previous batch's commit the lock waited for).
        read = (
            await session.execute(
                _READ,
                {
                    "accounts": statements.encode("uuid", list(state.ledgers)),
                    "reservations": statements.encode("uuid", reservation_ids),
                    "commits": statements.encode("uuid", commit_ids),
                },
            )
        ).one()
        for grant in map(_GrantRow._make, read.grants):
            state.ledgers[grant.account_id].grants[grant.grant_id] = grant_from_row(grant)
        holds: dict[uuid.UUID, list[Hold]] = {}
        for reservation_id, grant_id, amount in read.holds:
            holds.setdefault(reservation_id, []).append(Hold(grant_id, amount))
        for record in map(_ReservationRow._make, read.reservations):
            r = record._replace(prices=_json(record.prices))
            reservation = reservation_from_row(r, holds.get(r.reservation_id, []))
            state.reservations[r.reservation_id] = (
                reservation,
                StoredOutcome(r.outcome_topic, _json(r.outcome)),
            )
            if r.end_outcome is not None:
                state.end_outcomes[r.reservation_id] = StoredOutcome(
                    "credit.released", _json(r.end_outcome)
                )
        for account_id, reservation_id in read.tombstones:
            state.tombstones.add((account_id, reservation_id))
        for commit_id, reservation_id, account_id, request_hash, outcome in read.captures:
            state.captures[commit_id] = Capture(
                commit_id,
                reservation_id,
                account_id,
                request_hash,
                StoredOutcome("credit.committed", _json(outcome)),
            )
        state.price_version = PRICES.version_of(session, read.price_max, read.price_rows)

    # -- per command --------------------------------------------------------------------------

    def answering(self, causation_id: str | None, correlation_id: str | None) -> None:
        self.causation_id = causation_id
        self.correlation_id = correlation_id

    def checkpoint(self, account_id: uuid.UUID) -> object:
        return _Mark(
            account_id, self._state.changes, len(self._state.envelopes), self._balance(account_id)
        )

    def discard(self, mark: object) -> None:
        assert isinstance(mark, _Mark)
        state = self._state
        if state.changes != mark.changes or self._balance(mark.account_id) != mark.balance:
            # Never expected (use cases fail before they change anything); failing the batch
            # makes the consumer apply its commands one at a time, each in a savepoint.
            raise RuntimeError("a failed command changed the ledger; the batch cannot continue")
        del state.envelopes[mark.emitted :]

    def _balance(self, account_id: uuid.UUID) -> tuple[int, int] | None:
        ledger = self._state.ledgers.get(account_id)
        return (ledger.account.available, ledger.account.held) if ledger else None

    async def emit(
        self,
        topic: str,
        payload: BaseModel,
        account_id: uuid.UUID | None = None,
        site_id: uuid.UUID | None = None,
    ) -> None:
        run_id: Any = getattr(payload, "run_id", None)
        self._state.envelopes.append(
            TOPICS.envelope(
                topic,
                payload,
                source=self.source,
                account_id=account_id,
                site_id=site_id,
                causation_id=self.causation_id,
                correlation_id=self.correlation_id or (str(run_id) if run_id else None),
            )
        )

    # -- writing ------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Every change of the batch and its replies in one statement (one round trip)."""
        state = self._state
        parts = [
            statements.bound(
                statements.UPDATE_ACCOUNTS,
                [
                    (
                        lg.account.account_id,
                        lg.account.available,
                        lg.account.held,
                        lg.account.low_balance_alerted,
                    )
                    for lg in state.dirty_accounts.values()
                ],
            ),
            statements.bound(
                statements.UPSERT_GRANTS,
                [
                    (
                        g.grant_id,
                        account_id,
                        g.kind.value,
                        g.credits,
                        g.available,
                        g.held,
                        g.expires_at,
                        g.swept,
                        g.created_at,
                    )
                    for account_id, g in state.touched_grants.values()
                ],
            ),
            *self._movements(),
            *self._reservations(),
            statements.bound(
                statements.INSERT_CAPTURES,
                [
                    (
                        c.commit_id,
                        c.reservation_id,
                        c.account_id,
                        c.request_hash,
                        json.dumps(c.outcome.payload),
                    )
                    for c in state.new_captures
                ],
            ),
            statements.bound(statements.INSERT_USAGE, [_usage_row(u) for u in state.usage]),
            statements.bound(statements.INSERT_TOMBSTONES, state.new_tombstones),
        ]
        final = "SELECT 1"
        if state.envelopes:
            parts.append((INSERT_ROWS, OutboxWriter(TOPICS).rows(*state.envelopes)))
            final = WAKE_RELAY  # the relay's wake-up, delivered at commit
        await statements.run_together(self.session, parts, final)

    def _movements(self) -> list[tuple[str, dict[str, Any]] | None]:
        transactions: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        for account_id, now, movement in self._state.movements:
            transaction_id = uuid.uuid4()
            transactions.append(
                (transaction_id, account_id, movement.kind.value, movement.reference, now)
            )
            entries += [
                (
                    transaction_id,
                    account_id,
                    p.book.value,
                    p.grant_id,
                    p.amount,
                    p.balance_after,
                    now,
                )
                for p in movement.postings
            ]
        return [
            statements.bound(statements.INSERT_TRANSACTIONS, transactions),
            statements.bound(statements.INSERT_ENTRIES, entries),
        ]

    def _reservations(self) -> list[tuple[str, dict[str, Any]] | None]:
        state = self._state
        end = state.end_outcomes
        saved = list(state.saved_reservations.values())  # never one of the new ones
        return [
            statements.bound(
                statements.INSERT_RESERVATIONS,
                [_reservation_row(r, state) for r in state.new_reservations.values()],
            ),
            statements.bound(
                statements.INSERT_HOLDS,
                [
                    (r.reservation_id, h.grant_id, h.amount)
                    for r in state.new_reservations.values()
                    for h in r.holds
                ],
            ),
            statements.bound(
                statements.UPDATE_RESERVATIONS,
                [
                    (
                        r.reservation_id,
                        r.status.value,
                        r.captured,
                        r.released,
                        r.ended_at,
                        json.dumps(end[r.reservation_id].payload)
                        if r.reservation_id in end
                        else None,
                    )
                    for r in saved
                ],
            ),
            statements.bound(
                statements.UPDATE_HOLDS,
                [(r.reservation_id, h.grant_id, h.amount) for r in saved for h in r.holds],
            ),
        ]


class _GrantRow(NamedTuple):
    grant_id: uuid.UUID
    account_id: uuid.UUID
    kind: str
    credits: int
    available: int
    held: int
    expires_at: datetime | None
    swept: bool
    created_at: datetime


class _ReservationRow(NamedTuple):
    reservation_id: uuid.UUID
    account_id: uuid.UUID
    status: str
    credits: int
    captured: int
    released: int
    expires_at: datetime
    request_hash: str
    prices: Any
    run_id: uuid.UUID | None
    outcome_topic: str
    outcome: Any
    end_outcome: Any
    created_at: datetime
    ended_at: datetime | None


def _columns(row: type[NamedTuple], alias: str) -> str:
    return ", ".join(f"{alias}.{name}" for name in row._fields)


# Each id array as a scalar sub-select: evaluated once per statement. As a bare expression
# (`= ANY(CAST(CAST(:p AS text) AS uuid[]))`, not a constant: the cast is only stable) PostgreSQL
# parses the whole array again for every row a sequential scan filters — measured at five times
# the database's CPU per command whenever a plan chose one.
# (The outer cast makes the sub-select an expression: `ANY((SELECT …))` would compare with its
# rows, not with the array's elements.)
_UUIDS = "CAST((SELECT CAST(CAST(:{} AS text) AS uuid[])) AS uuid[])"
# One row: each table's rows as an array of records (asyncpg decodes them to tuples in the
# columns' order, named by the row classes above), and the cost table's version.
_READ = sa.text(
    f"""SELECT
    ARRAY(SELECT ROW({_columns(_GrantRow, "g")}) FROM grants g
          WHERE g.account_id = ANY({_UUIDS.format("accounts")})
          AND (NOT g.swept OR g.held > 0)) AS grants,
    ARRAY(SELECT ROW({_columns(_ReservationRow, "r")}) FROM reservations r
          WHERE r.reservation_id = ANY({_UUIDS.format("reservations")})) AS reservations,
    ARRAY(SELECT ROW(h.reservation_id, h.grant_id, h.amount) FROM reservation_holds h
          WHERE h.reservation_id = ANY({_UUIDS.format("reservations")})) AS holds,
    ARRAY(SELECT ROW(t.account_id, t.reservation_id) FROM release_tombstones t
          WHERE t.reservation_id = ANY({_UUIDS.format("reservations")})) AS tombstones,
    ARRAY(SELECT ROW(c.commit_id, c.reservation_id, c.account_id, c.request_hash, c.outcome)
          FROM captures c WHERE c.commit_id = ANY({_UUIDS.format("commits")})) AS captures,
    (SELECT coalesce(max(id), 0) FROM cost_table) AS price_max,
    (SELECT count(*) FROM cost_table) AS price_rows"""
)


def _json(value: Any) -> Any:
    """A JSONB value inside a record: decoded by the driver's codec, or still text."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _any_of(column: str, ids: Iterable[uuid.UUID]) -> Any:
    """`column = ANY(ids)` with the array evaluated once per statement (see `_UUIDS`)."""
    sql = f"{column} = ANY({_UUIDS.format('ids')})"
    return sa.text(sql).bindparams(ids=statements.encode("uuid", list(ids)))


def _reservation_row(r: Reservation, state: BatchState) -> tuple[Any, ...]:
    outcome = state.reservations[r.reservation_id][1]
    end = state.end_outcomes.get(r.reservation_id)
    return (
        r.reservation_id,
        r.account_id,
        r.status.value,
        r.credits,
        r.captured,
        r.released,
        r.expires_at,
        r.request_hash,
        json.dumps({op: price_json(p) for op, p in r.prices.items()}),
        r.run_id,
        outcome.topic,
        json.dumps(outcome.payload),
        json.dumps(end.payload) if end else None,
        r.created_at,
        r.ended_at,
    )


def _usage_row(u: UsageRecord) -> tuple[Any, ...]:
    return (
        u.account_id,
        u.reservation_id,
        u.commit_id,
        u.operation,
        u.quantity,
        u.credits,
        u.model,
        u.input_tokens,
        u.output_tokens,
        Decimal(u.provider_cost_usd) if u.provider_cost_usd else None,
        u.run_id,
        u.stage,
        u.item_id,
        u.created_at,
    )
