"""Closing a ledger change: persist it and raise the low-balance alert when it is crossed."""

from __future__ import annotations

from billing.domain.model import AccountLedger
from billing.ports import Policy, UnitOfWork
from igny8.contracts.credits import BalanceLow


async def settle(ledger: AccountLedger, uow: UnitOfWork, policy: Policy) -> None:
    ledger.expire_lapsed_grants()  # lazily, so no balance outlives its grant's expiry
    threshold = ledger.low_balance_crossed(policy.low_balance_threshold)
    await uow.ledger.save(ledger)
    if threshold is not None:
        await uow.emit(
            "balance.low",
            BalanceLow(available=ledger.account.available, threshold=threshold),
            ledger.account.account_id,
        )
