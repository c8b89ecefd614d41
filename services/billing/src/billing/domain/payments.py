"""Payment attempts of an invoice, as the payment provider reports them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class PaymentMethod(StrEnum):
    CHECKOUT = "checkout"
    """A hosted checkout page the customer is redirected to."""
    PAYMENT_INTENT = "payment_intent"
    """A charge of a saved payment method (renewals charge it off-session)."""


class PaymentStatus(StrEnum):
    PENDING = "pending"
    """Recorded (with its idempotency key) before the provider was called."""
    PROCESSING = "processing"
    """The provider accepted the request; its outcome arrives by webhook."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    """Refunded in full (a partial refund keeps `succeeded` and counts `refunded_amount`)."""


@dataclass
class Payment:
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    attempt: int
    method: PaymentMethod
    amount: int
    currency: str
    created_at: datetime
    status: PaymentStatus = PaymentStatus.PENDING
    provider_session_id: str | None = None
    checkout_url: str | None = None
    provider_intent_id: str | None = None
    client_secret: str | None = None
    failure_reason: str | None = None
    refunded_amount: int = 0

    @property
    def idempotency_key(self) -> str:
        """Derived from the invoice and the attempt: a retried call is the same call to Stripe."""
        return f"igny8-invoice-{self.invoice_id}-attempt-{self.attempt}"

    @property
    def settled(self) -> bool:
        return self.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)

    def succeed(self, intent_id: str | None) -> bool:
        """True when this call settled it; a late failure never overturns a success."""
        if self.settled:
            return False
        self.status = PaymentStatus.SUCCEEDED
        self.failure_reason = None
        if intent_id:
            self.provider_intent_id = intent_id
        return True

    def covered_by(self, paid_amount: int | None, paid_currency: str | None) -> bool:
        """Whether what the provider says it collected pays this attempt in full.

        An event without the figures (older API versions, tests of other paths) is taken at its
        word; one that names a smaller amount or another currency never pays the invoice.
        """
        if paid_currency is not None and paid_currency.lower() != self.currency.lower():
            return False
        return paid_amount is None or paid_amount >= self.amount

    def fail(self, reason: str) -> bool:
        """True when this call failed it (a success or an earlier failure stays)."""
        if self.settled or self.status is PaymentStatus.FAILED:
            return False
        self.status = PaymentStatus.FAILED
        self.failure_reason = reason[:500]
        return True

    def refund(self, refunded_total: int) -> int:
        """Record the provider's cumulative refunded amount; returns the newly refunded part."""
        new = max(0, min(refunded_total, self.amount) - self.refunded_amount)
        self.refunded_amount += new
        if self.refunded_amount >= self.amount:
            self.status = PaymentStatus.REFUNDED
        return new
