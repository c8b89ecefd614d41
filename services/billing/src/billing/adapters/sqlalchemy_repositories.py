"""PostgreSQL repositories of the billing aggregates (SQLAlchemy Core on an AsyncSession)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_price_cache import PRICES
from billing.adapters.sqlalchemy_tables import (
    billing_accounts,
    captures,
    cost_table,
    grant_keys,
    grants,
    ledger_entries,
    ledger_transactions,
    release_tombstones,
    reservation_holds,
    reservations,
    usage_log,
)
from billing.domain.model import (
    AccountLedger,
    BillingAccount,
    Grant,
    GrantKind,
    Hold,
    Reservation,
    ReservationStatus,
)
from billing.domain.pricing import Price, PriceList, Unit
from billing.ports import Capture, StoredOutcome, UsageRecord


def grant_from_row(row: Any) -> Grant:
    return Grant(
        grant_id=row.grant_id,
        kind=GrantKind(row.kind),
        credits=row.credits,
        available=row.available,
        held=row.held,
        expires_at=row.expires_at,
        created_at=row.created_at,
        swept=row.swept,
    )


class SqlAlchemyLedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_account(self, account_id: uuid.UUID, low_balance_threshold: int | None) -> bool:
        created = await self.session.execute(
            insert(billing_accounts)
            .values(account_id=account_id, low_balance_threshold=low_balance_threshold)
            .on_conflict_do_nothing()
            .returning(billing_accounts.c.account_id)
        )
        return created.first() is not None

    async def load(self, account_id: uuid.UUID, now: datetime) -> AccountLedger | None:
        row = (
            await self.session.execute(
                sa.select(billing_accounts)
                .where(billing_accounts.c.account_id == account_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        live = await self.session.execute(
            sa.select(grants).where(
                grants.c.account_id == account_id, sa.or_(~grants.c.swept, grants.c.held > 0)
            )
        )
        account = BillingAccount(
            account_id=row.account_id,
            available=row.available,
            held=row.held,
            low_balance_threshold=row.low_balance_threshold,
            low_balance_alerted=row.low_balance_alerted,
        )
        return AccountLedger(account, [grant_from_row(g) for g in live], now)

    async def save(self, ledger: AccountLedger) -> None:
        account = ledger.account
        await self.session.execute(
            sa.update(billing_accounts)
            .where(billing_accounts.c.account_id == account.account_id)
            .values(
                available=account.available,
                held=account.held,
                low_balance_alerted=account.low_balance_alerted,
            )
        )
        touched = [ledger.grants[g] for g in ledger.touched_grants]
        if touched:
            statement = insert(grants)
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=[grants.c.grant_id],
                    set_={
                        "available": statement.excluded.available,
                        "held": statement.excluded.held,
                        "expires_at": statement.excluded.expires_at,
                        "swept": statement.excluded.swept,
                    },
                ),
                [
                    {
                        "grant_id": g.grant_id,
                        "account_id": account.account_id,
                        "kind": g.kind.value,
                        "credits": g.credits,
                        "available": g.available,
                        "held": g.held,
                        "expires_at": g.expires_at,
                        "swept": g.swept,
                        "created_at": g.created_at,
                    }
                    for g in touched
                ],
            )
        if ledger.movements:
            transactions, entries = [], []
            for movement in ledger.movements:
                transaction_id = uuid.uuid4()
                transactions.append(
                    {
                        "transaction_id": transaction_id,
                        "account_id": account.account_id,
                        "kind": movement.kind.value,
                        "reference": movement.reference,
                        "created_at": ledger.now,
                    }
                )
                entries += [
                    {
                        "transaction_id": transaction_id,
                        "account_id": account.account_id,
                        "book": p.book.value,
                        "grant_id": p.grant_id,
                        "amount": p.amount,
                        "balance_after": p.balance_after,
                        "created_at": ledger.now,
                    }
                    for p in movement.postings
                ]
            await self.session.execute(sa.insert(ledger_transactions), transactions)
            await self.session.execute(sa.insert(ledger_entries), entries)
        ledger.movements.clear()
        ledger.touched_grants.clear()

    async def set_threshold(self, account_id: uuid.UUID, threshold: int | None) -> bool:
        changed = await self.session.execute(
            sa.update(billing_accounts)
            .where(billing_accounts.c.account_id == account_id)
            .values(low_balance_threshold=threshold, low_balance_alerted=False)
            .returning(billing_accounts.c.account_id)
        )
        return changed.first() is not None

    async def grant_for_key(
        self, account_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Grant, str] | None:
        row = (
            await self.session.execute(
                sa.select(grants, grant_keys.c.request_hash)
                .join(grant_keys, grant_keys.c.grant_id == grants.c.grant_id)
                .where(
                    grant_keys.c.account_id == account_id,
                    grant_keys.c.idempotency_key == idempotency_key,
                )
            )
        ).first()
        return (grant_from_row(row), row.request_hash) if row else None

    async def remember_grant_key(
        self, account_id: uuid.UUID, grant_id: uuid.UUID, idempotency_key: str, request_hash: str
    ) -> None:
        await self.session.execute(
            sa.insert(grant_keys).values(
                account_id=account_id,
                idempotency_key=idempotency_key,
                grant_id=grant_id,
                request_hash=request_hash,
            )
        )

    async def accounts_with_lapsed_grants(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(grants.c.account_id)
            .where(~grants.c.swept, grants.c.expires_at <= now)
            .group_by(grants.c.account_id)
            .limit(limit)
        )
        return list(rows.scalars())


def price_json(price: Price) -> dict[str, Any]:
    return {
        "unit": price.unit.value,
        "credits_per_unit": price.credits_per_unit,
        "minimum_credits": price.minimum_credits,
    }


def reservation_from_row(row: Any, holds: list[Hold]) -> Reservation:
    return Reservation(
        reservation_id=row.reservation_id,
        account_id=row.account_id,
        status=ReservationStatus(row.status),
        credits=row.credits,
        expires_at=row.expires_at,
        request_hash=row.request_hash,
        prices={
            op: Price(op, Unit(p["unit"]), p["credits_per_unit"], p["minimum_credits"])
            for op, p in row.prices.items()
        },
        created_at=row.created_at,
        holds=holds,
        captured=row.captured,
        released=row.released,
        run_id=row.run_id,
        ended_at=row.ended_at,
    )


class SqlAlchemyReservationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, reservation_id: uuid.UUID) -> tuple[Reservation, StoredOutcome] | None:
        row = (
            await self.session.execute(
                sa.select(reservations).where(reservations.c.reservation_id == reservation_id)
            )
        ).first()
        if row is None:
            return None
        holds = await self.session.execute(
            sa.select(reservation_holds).where(reservation_holds.c.reservation_id == reservation_id)
        )
        reservation = reservation_from_row(row, [Hold(h.grant_id, h.amount) for h in holds])
        return reservation, StoredOutcome(row.outcome_topic, row.outcome)

    async def add(self, reservation: Reservation, outcome: StoredOutcome) -> None:
        await self.session.execute(
            sa.insert(reservations).values(
                reservation_id=reservation.reservation_id,
                account_id=reservation.account_id,
                status=reservation.status.value,
                credits=reservation.credits,
                captured=reservation.captured,
                released=reservation.released,
                expires_at=reservation.expires_at,
                request_hash=reservation.request_hash,
                prices={op: price_json(p) for op, p in reservation.prices.items()},
                run_id=reservation.run_id,
                outcome_topic=outcome.topic,
                outcome=outcome.payload,
                created_at=reservation.created_at,
                ended_at=reservation.ended_at,
            )
        )
        if reservation.holds:
            await self.session.execute(
                sa.insert(reservation_holds),
                [
                    {
                        "reservation_id": reservation.reservation_id,
                        "grant_id": h.grant_id,
                        "amount": h.amount,
                    }
                    for h in reservation.holds
                ],
            )

    async def save(
        self, reservation: Reservation, end_outcome: StoredOutcome | None = None
    ) -> None:
        values: dict[str, Any] = {
            "status": reservation.status.value,
            "captured": reservation.captured,
            "released": reservation.released,
            "ended_at": reservation.ended_at,
        }
        if end_outcome is not None:
            values["end_outcome"] = end_outcome.payload
        await self.session.execute(
            sa.update(reservations)
            .where(reservations.c.reservation_id == reservation.reservation_id)
            .values(**values)
        )
        for hold in reservation.holds:
            await self.session.execute(
                sa.update(reservation_holds)
                .where(
                    reservation_holds.c.reservation_id == reservation.reservation_id,
                    reservation_holds.c.grant_id == hold.grant_id,
                )
                .values(amount=hold.amount)
            )

    async def end_outcome(self, reservation_id: uuid.UUID) -> StoredOutcome | None:
        payload = (
            await self.session.execute(
                sa.select(reservations.c.end_outcome).where(
                    reservations.c.reservation_id == reservation_id
                )
            )
        ).scalar()
        return StoredOutcome("credit.released", payload) if payload else None

    async def due_for_expiry(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        rows = await self.session.execute(
            sa.select(reservations.c.account_id, reservations.c.reservation_id)
            .where(reservations.c.status == "active", reservations.c.expires_at <= now)
            .order_by(reservations.c.expires_at)
            .limit(limit)
        )
        return [(r.account_id, r.reservation_id) for r in rows]

    async def get_capture(self, commit_id: uuid.UUID) -> Capture | None:
        row = (
            await self.session.execute(sa.select(captures).where(captures.c.commit_id == commit_id))
        ).first()
        if row is None:
            return None
        return Capture(
            row.commit_id,
            row.reservation_id,
            row.account_id,
            row.request_hash,
            StoredOutcome("credit.committed", row.outcome),
        )

    async def add_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> None:
        await self.session.execute(
            insert(release_tombstones)
            .values(account_id=account_id, reservation_id=reservation_id)
            .on_conflict_do_nothing()
        )

    async def has_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            sa.select(sa.literal(1)).where(
                release_tombstones.c.account_id == account_id,
                release_tombstones.c.reservation_id == reservation_id,
            )
        )
        return found.first() is not None

    async def add_capture(self, capture: Capture) -> None:
        await self.session.execute(
            sa.insert(captures).values(
                commit_id=capture.commit_id,
                reservation_id=capture.reservation_id,
                account_id=capture.account_id,
                request_hash=capture.request_hash,
                outcome=capture.outcome.payload,
            )
        )


class SqlAlchemyPriceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def prices_at(self, when: datetime) -> PriceList:
        return await PRICES.prices_at(self.session, when)

    async def add_version(self, prices: list[Price], effective_at: datetime) -> None:
        await self.session.execute(
            sa.insert(cost_table),
            [
                {
                    "operation": p.operation,
                    "unit": p.unit.value,
                    "credits_per_unit": p.credits_per_unit,
                    "minimum_credits": p.minimum_credits,
                    "display_name": p.display_name,
                    "effective_at": effective_at,
                }
                for p in prices
            ],
        )


class SqlAlchemyUsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, record: UsageRecord) -> None:
        await self.session.execute(
            sa.insert(usage_log).values(
                account_id=record.account_id,
                reservation_id=record.reservation_id,
                commit_id=record.commit_id,
                operation=record.operation,
                quantity=record.quantity,
                credits=record.credits,
                model=record.model,
                input_tokens=record.input_tokens,
                output_tokens=record.output_tokens,
                provider_cost_usd=(
                    Decimal(record.provider_cost_usd) if record.provider_cost_usd else None
                ),
                run_id=record.run_id,
                stage=record.stage,
                item_id=record.item_id,
                created_at=record.created_at,
            )
        )
