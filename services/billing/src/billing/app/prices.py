"""The cost table: quotes without reserving, and new price versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.app.commands import Item
from billing.domain.errors import InvalidCommand
from billing.domain.pricing import OPERATIONS, Price
from billing.ports import UnitOfWork


@dataclass(frozen=True)
class QuoteLine:
    operation: str
    quantity: int
    credits: int
    price: Price


async def quote(items: list[Item], uow: UnitOfWork, now: datetime) -> list[QuoteLine]:
    prices = await uow.prices.prices_at(now)
    lines = []
    for item in items:
        price = prices[item.operation]
        lines.append(
            QuoteLine(item.operation, item.quantity, price.credits_for(item.quantity), price)
        )
    return lines


async def change_prices(
    prices: list[Price], effective_at: datetime, now: datetime, uow: UnitOfWork
) -> None:
    """A new version from `effective_at` on; existing reservations keep the prices they locked."""
    if not prices:
        raise InvalidCommand("no prices given")
    if effective_at < now:
        raise InvalidCommand("a price change cannot take effect in the past")
    seen = [p.operation for p in prices]
    if len(seen) != len(set(seen)):
        raise InvalidCommand("an operation is listed twice")
    unknown = set(seen) - set(OPERATIONS)
    if unknown:
        raise InvalidCommand(f"unknown operations: {sorted(unknown)}")
    await uow.prices.add_version(prices, effective_at)
