"""Drives billing's use cases directly on a real database (test support)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.adapters.sqlalchemy_audit import audit
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import commands
from billing.app.commit_credits import commit_credits
from billing.app.grant_credits import grant_credits
from billing.app.release_credits import release_credits
from billing.app.reserve_credits import reserve_credits
from billing.domain.model import GrantKind
from billing.ports import Policy, StoredOutcome
from igny8.db import session_factory


@dataclass
class FixedClock:
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class Billing:
    """Drives the use cases directly, one unit of work (transaction) per call."""

    engine: AsyncEngine
    clock: FixedClock = field(default_factory=FixedClock)
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    async def run(self, use_case: Any, cmd: Any) -> Any:
        async with BillingUnitOfWork(self.sessions) as uow:
            result = await use_case(cmd, uow, self.clock, self.policy)
            await uow.commit()
            return result

    async def open(self, credits: int = 0, threshold: int | None = None) -> uuid.UUID:
        account = uuid.uuid4()
        async with BillingUnitOfWork(self.sessions) as uow:
            await uow.ledger.open_account(account, threshold)
            await uow.commit()
        if credits:
            await self.grant(account, credits)
        return account

    async def grant(
        self,
        account: uuid.UUID,
        credits: int,
        kind: GrantKind = GrantKind.PAID,
        expires_in: float | None = None,
    ) -> Any:
        expires = self.clock.now() + timedelta(seconds=expires_in) if expires_in else None
        return await self.run(
            grant_credits, commands.GrantCredits(account, credits, kind, uuid.uuid4().hex, expires)
        )

    async def reserve(
        self,
        account: uuid.UUID,
        *items: tuple[str, int],
        reservation: uuid.UUID | None = None,
        ttl: int = 3600,
    ) -> StoredOutcome:
        return await self.run(
            reserve_credits,
            commands.ReserveCredits(
                account,
                reservation or uuid.uuid4(),
                tuple(commands.Item(op, q) for op, q in items),
                ttl,
            ),
        )

    async def commit(
        self,
        account: uuid.UUID,
        reservation: uuid.UUID,
        operation: str,
        quantity: int,
        commit_id: uuid.UUID | None = None,
    ) -> StoredOutcome:
        return await self.run(
            commit_credits,
            commands.CommitCredits(
                account, reservation, commit_id or uuid.uuid4(), operation, quantity
            ),
        )

    async def release(self, account: uuid.UUID, reservation: uuid.UUID) -> StoredOutcome:
        return await self.run(release_credits, commands.ReleaseCredits(account, reservation))

    async def violations(self) -> dict[str, list[str]]:
        async with self.engine.connect() as conn:
            return await audit(conn)

    async def balance(self, account: uuid.UUID) -> tuple[int, int]:
        async with BillingUnitOfWork(self.sessions) as uow:
            ledger = await uow.ledger.load(account, self.clock.now())
            assert ledger is not None
            return ledger.account.available, ledger.account.held

    async def spendable(self, account: uuid.UUID) -> int:
        """Available credits on grants that have not expired at the clock's instant."""
        async with BillingUnitOfWork(self.sessions) as uow:
            ledger = await uow.ledger.load(account, self.clock.now())
            assert ledger is not None
            return sum(
                g.available for g in ledger.grants.values() if not g.is_expired(self.clock.now())
            )

    async def _scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.text(sql), params)).scalar()

    async def alerts(self, account: uuid.UUID) -> int:
        """How many balance.low events the account has had."""
        return int(
            await self._scalar(
                "SELECT count(*) FROM outbox WHERE topic = 'balance.low' AND key = :k",
                k=str(account).encode(),
            )
        )

    async def alerted(self, account: uuid.UUID) -> bool:
        return bool(
            await self._scalar(
                "SELECT low_balance_alerted FROM billing_accounts WHERE account_id = :a", a=account
            )
        )

    async def hold(self, reservation: uuid.UUID) -> tuple[str, int]:
        """A reservation's status and remaining hold."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.text(
                        "SELECT status, credits - captured - released AS remaining "
                        "FROM reservations WHERE reservation_id = :r"
                    ),
                    {"r": reservation},
                )
            ).one()
        return row.status, int(row.remaining)

    async def expiries(self, accounts: list[uuid.UUID]) -> list[datetime]:
        """Expiry instants of the accounts' live grants and active holds."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT expires_at FROM grants WHERE account_id = ANY(:a) AND NOT swept "
                    "AND expires_at IS NOT NULL UNION SELECT expires_at FROM reservations "
                    "WHERE account_id = ANY(:a) AND status = 'active'"
                ),
                {"a": accounts},
            )
            return sorted(r.expires_at for r in rows)
