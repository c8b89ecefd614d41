"""Opening billing accounts and changing their settings."""

from __future__ import annotations

import uuid

from billing.domain.errors import InvalidCommand, UnknownAccount
from billing.ports import UnitOfWork


async def open_account(
    account_id: uuid.UUID, low_balance_threshold: int | None, uow: UnitOfWork
) -> bool:
    """Idempotent on the account id; True when the account was created now."""
    if low_balance_threshold is not None and low_balance_threshold < 0:
        raise InvalidCommand("low_balance_threshold must not be negative")
    return await uow.ledger.open_account(account_id, low_balance_threshold)


async def change_threshold(account_id: uuid.UUID, threshold: int | None, uow: UnitOfWork) -> None:
    if threshold is not None and threshold < 0:
        raise InvalidCommand("low_balance_threshold must not be negative")
    if not await uow.ledger.set_threshold(account_id, threshold):
        raise UnknownAccount(f"no billing account {account_id}")
