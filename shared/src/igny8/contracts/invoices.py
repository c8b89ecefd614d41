"""Payloads of invoices and payments (DESIGN §4, "Plans, packages, invoices, payments")."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InvoiceChanged(_Payload):
    """`invoice.finalized`, `invoice.paid`, `invoice.voided`: the invoice as it now stands."""

    invoice_id: uuid.UUID
    number: str
    kind: Literal["subscription", "credit_package", "custom"]
    status: Literal["open", "paid", "void", "uncollectible"]
    currency: str = Field(min_length=3, max_length=3)
    subtotal: int = Field(ge=0)
    tax: int = Field(ge=0)
    total: int = Field(ge=0)
    """Integer minor units (cents)."""
    credits: int = Field(ge=0)
    """Credits the invoice buys, granted once it is paid."""
    subscription_id: uuid.UUID | None = None
    at: AwareDatetime


class PaymentChanged(_Payload):
    """`payment.succeeded`, `payment.failed`, `payment.refunded`."""

    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    attempt: int = Field(ge=1)
    method: Literal["checkout", "payment_intent"]
    status: Literal["pending", "processing", "succeeded", "failed", "refunded"]
    amount: int = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3)
    refunded_amount: int = Field(default=0, ge=0)
    failure_reason: str | None = None
    credit_note_id: uuid.UUID | None = None
    """For a refund: the credit note that records it."""
