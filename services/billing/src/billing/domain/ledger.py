"""The double-entry ledger: every movement is a set of postings that sums to zero.

Books: per customer account and grant, `available` and `held`; platform-wide `revenue` (captured
credits), `expired` (credits that lapsed) and one `source:<kind>` per grant kind (where granted
credits come from, so it runs negative). Entries are never edited; corrections are new movements.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class Book(StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    REVENUE = "revenue"
    EXPIRED = "expired"
    SOURCE_PAID = "source:paid"
    SOURCE_PLAN = "source:plan"
    SOURCE_PROMO = "source:promo"

    @property
    def is_customer(self) -> bool:
        return self in (Book.AVAILABLE, Book.HELD)


class MovementKind(StrEnum):
    GRANT = "grant"
    RESERVE = "reserve"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRE = "expire"
    REVOKE = "revoke"
    """Unspent credits taken back (a refunded purchase); the reference is the credit note."""


@dataclass(frozen=True)
class Posting:
    book: Book
    amount: int
    grant_id: uuid.UUID | None = None
    balance_after: int | None = None
    """For customer books: the account's total in that book after this posting."""


@dataclass
class Movement:
    kind: MovementKind
    reference: str
    """What caused it: a grant, reservation or commit id."""
    postings: list[Posting] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return sum(p.amount for p in self.postings) == 0
