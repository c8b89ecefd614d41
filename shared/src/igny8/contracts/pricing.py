"""The one credit formula, on the wire price model: billing charges with it and every caller of
the credit saga (automation, publishing) sizes its holds and claims with it, so a claim can
never disagree with billing's capture (`hold_exceeded`)."""

from __future__ import annotations

import math

from igny8.contracts.credits import Operation, Price, PricingUnit

OPERATIONS: tuple[str, ...] = tuple(op.value for op in Operation)
"""Every operation billing prices, in display order."""

UNIT_SIZE: dict[PricingUnit, int] = {PricingUnit.PER_100_WORDS: 100, PricingUnit.PER_200_WORDS: 200}
"""How many of the natural measure (words or counts) make one unit; 1 when not listed."""


def unit_size(unit: PricingUnit | str) -> int:
    return UNIT_SIZE.get(PricingUnit(unit), 1)


def credits_for(price: Price, quantity: int) -> int:
    """Credits for `quantity` in the operation's natural measure (words or counts), always
    rounded up to whole units and never below the minimum; nothing used costs nothing."""
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    if quantity == 0:
        return 0
    units = math.ceil(quantity / unit_size(price.unit))
    return max(price.minimum_credits, units * price.credits_per_unit)
