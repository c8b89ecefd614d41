"""Invoices and credit notes: lines, tax and totals in integer minor units, and their life cycle.

`draft → open (finalized, numbered) → paid | void | uncollectible`. A paid invoice is never voided:
it is corrected by a credit note. Numbers are handed out by the repository's counter row in the
finalizing transaction, so this module only formats them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from billing.domain.errors import InvalidCommand, InvoiceStateError

TAX_RATE_SCALE = 10_000
"""Tax rates are basis points: 1,900 = 19 %."""


class InvoiceKind(StrEnum):
    SUBSCRIPTION = "subscription"
    CREDIT_PACKAGE = "credit_package"
    CUSTOM = "custom"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


def tax_of(amount: int, rate_bp: int) -> int:
    """Tax in minor units, rounded half up (integers only: money is never a float)."""
    return (amount * rate_bp + TAX_RATE_SCALE // 2) // TAX_RATE_SCALE


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: int
    unit_amount: int
    tax_rate_bp: int
    credits: int = 0
    """Credits this line buys (granted once the invoice is paid)."""

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise InvalidCommand("a line needs a description")
        if self.quantity <= 0:
            raise InvalidCommand("a line's quantity must be positive")
        if self.unit_amount < 0 or self.credits < 0:
            raise InvalidCommand("amounts and credits must not be negative")
        if not 0 <= self.tax_rate_bp <= TAX_RATE_SCALE:
            raise InvalidCommand("a tax rate lies between 0 and 10,000 basis points")

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_amount

    @property
    def tax(self) -> int:
        return tax_of(self.amount, self.tax_rate_bp)


@dataclass(frozen=True)
class BillingDetails:
    """Who is billed, copied onto each invoice when finalized (later edits do not alter it)."""

    name: str = ""
    email: str = ""
    address: str = ""


@dataclass
class Invoice:
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    kind: InvoiceKind
    currency: str
    lines: list[InvoiceLine]
    created_at: datetime
    status: InvoiceStatus = InvoiceStatus.DRAFT
    number: str | None = None
    billing: BillingDetails = field(default_factory=BillingDetails)
    package_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    subscription_id: uuid.UUID | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    uncollectible_at: datetime | None = None
    request_key: str | None = None
    """The Idempotency-Key of the request that created it, if the caller sent one."""

    def __post_init__(self) -> None:
        if not self.lines:
            raise InvalidCommand("an invoice needs at least one line")
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise InvalidCommand("currency must be a three-letter ISO code")
        self.currency = self.currency.lower()

    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal + self.tax

    @property
    def credits(self) -> int:
        return sum(line.credits for line in self.lines)

    def finalize(self, number: str, billing: BillingDetails, now: datetime) -> None:
        if self.status is not InvoiceStatus.DRAFT:
            raise InvoiceStateError(f"only a draft can be finalized; this one is {self.status}")
        self.number = number
        self.billing = billing
        self.status = InvoiceStatus.OPEN
        self.finalized_at = now

    def require_payable(self) -> None:
        if self.status is not InvoiceStatus.OPEN:
            raise InvoiceStateError(f"only an open invoice can be paid; this one is {self.status}")

    def mark_paid(self, now: datetime) -> bool:
        """True when this call paid it (an uncollectible invoice can still be paid late)."""
        if self.status is InvoiceStatus.PAID:
            return False
        if self.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
            raise InvoiceStateError(f"a {self.status} invoice cannot be paid")
        self.status = InvoiceStatus.PAID
        self.paid_at = now
        return True

    def void(self, now: datetime) -> None:
        if self.status is InvoiceStatus.PAID:
            raise InvoiceStateError("a paid invoice is corrected by a credit note, never voided")
        if self.status not in (
            InvoiceStatus.DRAFT,
            InvoiceStatus.OPEN,
            InvoiceStatus.UNCOLLECTIBLE,
        ):
            raise InvoiceStateError(f"a {self.status} invoice cannot be voided")
        self.status = InvoiceStatus.VOID
        self.voided_at = now

    def mark_uncollectible(self, now: datetime) -> None:
        if self.status is not InvoiceStatus.OPEN:
            raise InvoiceStateError(f"a {self.status} invoice cannot become uncollectible")
        self.status = InvoiceStatus.UNCOLLECTIBLE
        self.uncollectible_at = now


def document_number(prefix: str, series: str, year: int, sequence: int) -> str:
    """`ACME-2026-000123` for invoices, `ACME-CN-2026-000004` for credit notes."""
    middle = "" if series == "invoice" else "CN-"
    return f"{prefix}-{middle}{year}-{sequence:06d}"


@dataclass(frozen=True)
class CreditNote:
    """A correction of a paid invoice: money given back and the credits taken back with it."""

    credit_note_id: uuid.UUID
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    number: str
    amount: int
    currency: str
    credits_taken_back: int
    credits_already_spent: int
    reason: str
    created_at: datetime
    refund_reference: str | None = None

    @property
    def memo(self) -> str:
        if self.credits_already_spent:
            return (
                f"{self.credits_taken_back} unspent credits taken back; "
                f"{self.credits_already_spent} credits had been spent and stay spent"
            )
        return f"{self.credits_taken_back} credits taken back"


def credits_for_refund(
    invoice_credits: int, invoice_total: int, refunded_total: int, taken_before: int
) -> int:
    """Credits a cumulative refund corresponds to, less what earlier notes already took back.

    Proportional to the money refunded (rounded down: we never take back more than was bought);
    a full refund takes back every credit the invoice bought.
    """
    if invoice_total <= 0:
        return 0
    if refunded_total >= invoice_total:
        due = invoice_credits
    else:
        due = invoice_credits * refunded_total // invoice_total
    return max(0, due - taken_before)
