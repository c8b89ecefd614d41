"""Pricing: operation → unit → credits per unit, a minimum, always rounded up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.domain.errors import InvalidCommand, UnknownOperation
from igny8.contracts import credits as wire
from igny8.contracts.pricing import OPERATIONS, credits_for, unit_size


class Unit(StrEnum):
    PER_REQUEST = "per_request"
    PER_100_WORDS = "per_100_words"
    PER_200_WORDS = "per_200_words"
    PER_ITEM = "per_item"
    PER_IMAGE = "per_image"

    @property
    def size(self) -> int:
        """How many of the natural measure (words or counts) make one unit."""
        return unit_size(self.value)


__all__ = ["DEFAULT_PRICES", "OPERATIONS", "Price", "PriceList", "Unit"]


@dataclass(frozen=True)
class Price:
    operation: str
    unit: Unit
    credits_per_unit: int
    minimum_credits: int
    display_name: str = ""
    effective_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise UnknownOperation(f"unknown operation {self.operation!r}")
        if self.credits_per_unit < 0 or self.minimum_credits < 0:
            raise InvalidCommand("prices are non-negative integers")

    @property
    def wire(self) -> wire.Price:
        return wire.Price(
            unit=wire.PricingUnit(self.unit.value),
            credits_per_unit=self.credits_per_unit,
            minimum_credits=self.minimum_credits,
        )

    def credits_for(self, quantity: int) -> int:
        """Quantity in the natural measure (words or counts); nothing used costs nothing. The
        formula is the shared one callers size their holds and claims with."""
        if quantity < 0:
            raise InvalidCommand("quantity must not be negative")
        return credits_for(self.wire, quantity)


class PriceList:
    """The prices in force at one moment."""

    def __init__(self, prices: dict[str, Price]) -> None:
        self._prices = prices

    def __getitem__(self, operation: str) -> Price:
        try:
            return self._prices[operation]
        except KeyError:
            raise UnknownOperation(f"unknown operation {operation!r}") from None

    def __contains__(self, operation: object) -> bool:
        return operation in self._prices

    def values(self) -> list[Price]:
        return [self._prices[op] for op in OPERATIONS if op in self._prices]


DEFAULT_PRICES = (
    Price("clustering", Unit.PER_REQUEST, 10, 10, "Keyword clustering"),
    Price("idea_generation", Unit.PER_ITEM, 2, 2, "Content ideas"),
    Price("content_generation", Unit.PER_100_WORDS, 1, 5, "Article writing"),
    Price("image_prompt_extraction", Unit.PER_ITEM, 1, 1, "Image prompts"),
    Price("image_generation", Unit.PER_IMAGE, 5, 5, "Images"),
    Price("linking", Unit.PER_REQUEST, 2, 2, "Internal linking"),
    Price("optimization", Unit.PER_200_WORDS, 1, 2, "Optimization"),
)
