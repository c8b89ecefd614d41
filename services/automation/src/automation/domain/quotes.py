"""Billing's quote for a run's quantities (a price list answer, nothing held)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class QuotedPrice:
    operation: str
    unit: str
    credits_per_unit: int
    minimum_credits: int
    display_name: str
    effective_at: datetime | None


@dataclass(frozen=True)
class QuoteLine:
    operation: str
    quantity: int
    credits: int
    price: QuotedPrice


@dataclass(frozen=True)
class Quote:
    credits: int
    lines: tuple[QuoteLine, ...] = ()


@dataclass(frozen=True)
class RunEstimate:
    """What a run of these stages would need now, and billing's price for it."""

    stages: tuple[int, ...]
    quantities: dict[str, int]
    quote: Quote
