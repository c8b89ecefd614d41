"""A unit of work for a batch of ledger commands: read once up front, write once at the end.

`load_batch` locks the batch's accounts in one statement (`ORDER BY account_id FOR UPDATE`: the
rows are locked in that order, so two batches touching the same accounts queue instead of
deadlocking) and reads their live grants, the reservations (with holds), captures and release
tombstones the commands name, and the cost table's version — one query each. The repositories
below then answer the use cases from memory and record what they change; `flush` writes it with one
multi-row statement per table and queues every reply in the outbox in one insert. Nothing commits
here: the consumer's transaction (which also holds the inbox rows) does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
from billing.adapters.sqlalchemy_tables import (
    billing_accounts,
    captures,
    grants,
    ledger_entries,
    ledger_transactions,
    release_tombstones,
    reservation_holds,
    reservations,
    usage_log,
)
from billing.domain.model import AccountLedger, BillingAccount, Hold, Reservation
from billing.ports import Capture, StoredOutcome, UsageRecord
from igny8.contracts import TOPICS
from igny8.db import SqlAlchemyUnitOfWork
from igny8.messaging.outbox import OutboxWriter


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
            .where(billing_accounts.c.account_id == sa.any_(_ids(accounts)))
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
        if state.ledgers:
            live = await session.execute(
                sa.select(grants).where(
                    grants.c.account_id == sa.any_(_ids(state.ledgers)),
                    sa.or_(~grants.c.swept, grants.c.held > 0),
                )
            )
            for row in live:
                state.ledgers[row.account_id].grants[row.grant_id] = grant_from_row(row)
        if reservation_ids:
            await self._load_reservations(reservation_ids)
        if commit_ids:
            found = await session.execute(
                sa.select(captures).where(captures.c.commit_id == sa.any_(_ids(commit_ids)))
            )
            for row in found:
                state.captures[row.commit_id] = Capture(
                    row.commit_id,
                    row.reservation_id,
                    row.account_id,
                    row.request_hash,
                    StoredOutcome("credit.committed", row.outcome),
                )
        state.price_version = await PRICES.version(session)

    async def _load_reservations(self, reservation_ids: Sequence[uuid.UUID]) -> None:
        state, session, ids = self._state, self.session, _ids(reservation_ids)
        rows = (
            await session.execute(
                sa.select(reservations).where(reservations.c.reservation_id == sa.any_(ids))
            )
        ).all()
        holds: dict[uuid.UUID, list[Hold]] = {}
        if rows:
            for h in await session.execute(
                sa.select(reservation_holds).where(
                    reservation_holds.c.reservation_id == sa.any_(ids)
                )
            ):
                holds.setdefault(h.reservation_id, []).append(Hold(h.grant_id, h.amount))
        for row in rows:
            reservation = reservation_from_row(row, holds.get(row.reservation_id, []))
            state.reservations[row.reservation_id] = (
                reservation,
                StoredOutcome(row.outcome_topic, row.outcome),
            )
            if row.end_outcome:
                state.end_outcomes[row.reservation_id] = StoredOutcome(
                    "credit.released", row.end_outcome
                )
        for row in await session.execute(
            sa.select(release_tombstones).where(release_tombstones.c.reservation_id == sa.any_(ids))
        ):
            state.tombstones.add((row.account_id, row.reservation_id))

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
        state, session = self._state, self.session
        await _execute(
            session,
            sa.update(billing_accounts)
            .where(billing_accounts.c.account_id == sa.bindparam("b_account_id"))
            .values(
                available=sa.bindparam("b_available"),
                held=sa.bindparam("b_held"),
                low_balance_alerted=sa.bindparam("b_alerted"),
            ),
            [
                {
                    "b_account_id": lg.account.account_id,
                    "b_available": lg.account.available,
                    "b_held": lg.account.held,
                    "b_alerted": lg.account.low_balance_alerted,
                }
                for _, lg in sorted(state.dirty_accounts.items())
            ],
        )
        upsert = insert(grants)
        await _execute(
            session,
            upsert.on_conflict_do_update(
                index_elements=[grants.c.grant_id],
                set_={c: upsert.excluded[c] for c in ("available", "held", "expires_at", "swept")},
            ),
            [
                {
                    "grant_id": g.grant_id,
                    "account_id": account_id,
                    "kind": g.kind.value,
                    "credits": g.credits,
                    "available": g.available,
                    "held": g.held,
                    "expires_at": g.expires_at,
                    "swept": g.swept,
                    "created_at": g.created_at,
                }
                for account_id, g in state.touched_grants.values()
            ],
        )
        await self._write_movements()
        await self._write_reservations()
        await _execute(session, sa.insert(captures), [_capture_row(c) for c in state.new_captures])
        await _execute(session, sa.insert(usage_log), [_usage_row(u) for u in state.usage])
        await _execute(
            session,
            insert(release_tombstones).on_conflict_do_nothing(),
            [{"account_id": a, "reservation_id": r} for a, r in state.new_tombstones],
        )
        if state.envelopes:
            await OutboxWriter(TOPICS).add(session, *state.envelopes)

    async def _write_movements(self) -> None:
        transactions: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        for account_id, now, movement in self._state.movements:
            transaction_id = uuid.uuid4()
            transactions.append(
                {
                    "transaction_id": transaction_id,
                    "account_id": account_id,
                    "kind": movement.kind.value,
                    "reference": movement.reference,
                    "created_at": now,
                }
            )
            entries += [
                {
                    "transaction_id": transaction_id,
                    "account_id": account_id,
                    "book": p.book.value,
                    "grant_id": p.grant_id,
                    "amount": p.amount,
                    "balance_after": p.balance_after,
                    "created_at": now,
                }
                for p in movement.postings
            ]
        await _execute(self.session, sa.insert(ledger_transactions), transactions)
        await _execute(self.session, sa.insert(ledger_entries), entries)

    async def _write_reservations(self) -> None:
        state, session = self._state, self.session
        end = state.end_outcomes
        new = [_reservation_row(r, state) for r in state.new_reservations.values()]
        # Two statements, so a reservation that has not ended keeps a SQL NULL end outcome.
        await _execute(session, sa.insert(reservations), [r for r in new if "end_outcome" in r])
        await _execute(session, sa.insert(reservations), [r for r in new if "end_outcome" not in r])
        await _execute(
            session,
            sa.insert(reservation_holds),
            [
                {"reservation_id": r.reservation_id, "grant_id": h.grant_id, "amount": h.amount}
                for r in state.new_reservations.values()
                for h in r.holds
            ],
        )
        saved = list(state.saved_reservations.values())
        await _execute(
            session,
            sa.update(reservations)
            .where(reservations.c.reservation_id == sa.bindparam("b_id"))
            .values(
                status=sa.bindparam("b_status"),
                captured=sa.bindparam("b_captured"),
                released=sa.bindparam("b_released"),
                ended_at=sa.bindparam("b_ended_at"),
            ),
            [
                {
                    "b_id": r.reservation_id,
                    "b_status": r.status.value,
                    "b_captured": r.captured,
                    "b_released": r.released,
                    "b_ended_at": r.ended_at,
                }
                for r in saved
            ],
        )
        await _execute(
            session,
            sa.update(reservations)
            .where(reservations.c.reservation_id == sa.bindparam("b_id"))
            .values(end_outcome=sa.bindparam("b_end")),
            [
                {"b_id": r.reservation_id, "b_end": end[r.reservation_id].payload}
                for r in saved
                if r.reservation_id in end
            ],
        )
        await _execute(
            session,
            sa.update(reservation_holds)
            .where(
                reservation_holds.c.reservation_id == sa.bindparam("b_id"),
                reservation_holds.c.grant_id == sa.bindparam("b_grant"),
            )
            .values(amount=sa.bindparam("b_amount")),
            [
                {"b_id": r.reservation_id, "b_grant": h.grant_id, "b_amount": h.amount}
                for r in saved
                for h in r.holds
            ],
        )


async def _execute(session: AsyncSession, statement: Any, rows: list[dict[str, Any]]) -> None:
    """One statement for all rows (an executemany, pipelined by asyncpg); none for no rows."""
    if rows:
        await session.execute(statement, rows)


def _ids(ids: Iterable[uuid.UUID]) -> Any:
    return sa.literal(list(ids), type_=sa.ARRAY(reservations.c.reservation_id.type))


def _reservation_row(r: Reservation, state: BatchState) -> dict[str, Any]:
    outcome = state.reservations[r.reservation_id][1]
    row = {
        "reservation_id": r.reservation_id,
        "account_id": r.account_id,
        "status": r.status.value,
        "credits": r.credits,
        "captured": r.captured,
        "released": r.released,
        "expires_at": r.expires_at,
        "request_hash": r.request_hash,
        "prices": {op: price_json(p) for op, p in r.prices.items()},
        "run_id": r.run_id,
        "outcome_topic": outcome.topic,
        "outcome": outcome.payload,
        "created_at": r.created_at,
        "ended_at": r.ended_at,
    }
    if r.reservation_id in state.end_outcomes:
        row["end_outcome"] = state.end_outcomes[r.reservation_id].payload
    return row


def _capture_row(c: Capture) -> dict[str, Any]:
    return {
        "commit_id": c.commit_id,
        "reservation_id": c.reservation_id,
        "account_id": c.account_id,
        "request_hash": c.request_hash,
        "outcome": c.outcome.payload,
    }


def _usage_row(u: UsageRecord) -> dict[str, Any]:
    return {
        "account_id": u.account_id,
        "reservation_id": u.reservation_id,
        "commit_id": u.commit_id,
        "operation": u.operation,
        "quantity": u.quantity,
        "credits": u.credits,
        "model": u.model,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "provider_cost_usd": Decimal(u.provider_cost_usd) if u.provider_cost_usd else None,
        "run_id": u.run_id,
        "stage": u.stage,
        "item_id": u.item_id,
        "created_at": u.created_at,
    }
