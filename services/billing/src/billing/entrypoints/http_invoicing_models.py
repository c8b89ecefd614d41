"""Request and response models of the catalogue, subscription, invoice and payment routes.

Bounds match the columns behind them (migration `2026-11-26_invoices_payments`): prices, amounts
and credits are BIGINT (the caps below are far under INT64 so a hundred lines of the largest
quantity times the largest unit amount, plus 100 % tax, still fit), tax rates are basis points
0..10,000 (an INTEGER with a CHECK), so an out-of-range number is a 422 naming the field, never a
database error."""

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from billing.domain.payments import PaymentMethod, PaymentStatus
from billing.domain.subscriptions import Interval, SubscriptionStatus
from igny8.webapi import INT64_MAX

MAX_PRICE = 100_000_000_00
"""Minor units (cents): 100 million in the currency's major unit."""
MAX_CREDITS = 100_000_000
MAX_QUANTITY = 1_000_000
MAX_TAX_RATE_BP = 10_000

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217, e.g. `usd`.")]
Amount = Annotated[int, Field(ge=0, le=INT64_MAX, description="Minor units (cents).")]
TaxRate = Annotated[int, Field(ge=0, le=MAX_TAX_RATE_BP, description="Basis points (1 % = 100).")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OfferBody(_Body):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=0, le=MAX_PRICE, description="Minor units (cents).")
    currency: Currency
    credits: int = Field(gt=0, le=MAX_CREDITS)
    active: bool = True


class PlanBody(OfferBody):
    interval: Interval


class ProfileBody(_Body):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    address: str | None = Field(default=None, max_length=1000)
    number_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{2,12}$",
        description="Invoice number prefix (platform_admin only).",
    )
    tax_rate_bp: TaxRate | None = Field(default=None, description="Basis points (platform_admin).")


class PlanChoice(_Body):
    plan: Code


class PackageChoice(_Body):
    package: Code


class LineBody(_Body):
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(gt=0, le=MAX_QUANTITY)
    unit_amount: int = Field(ge=0, le=MAX_PRICE, description="Minor units (cents).")
    credits: int = Field(default=0, ge=0, le=MAX_CREDITS)
    tax_rate_bp: TaxRate | None = Field(default=None, description="Null: the account's rate.")


class CustomInvoiceBody(_Body):
    currency: Currency
    lines: list[LineBody] = Field(min_length=1, max_length=100)


class PayBody(_Body):
    method: PaymentMethod = PaymentMethod.CHECKOUT


class RefundBody(_Body):
    amount: int | None = Field(
        default=None,
        gt=0,
        le=INT64_MAX,
        description="Minor units; null refunds what remains of the payment.",
    )


# ---------------------------------------------------------------- answers


class PlanView(BaseModel):
    plan_id: uuid.UUID
    code: str
    version: int
    name: str
    interval: Interval
    price: Amount
    currency: str
    credits: int
    active: bool


class PlanList(BaseModel):
    items: list[PlanView]


class PackageView(BaseModel):
    package_id: uuid.UUID
    code: str
    version: int
    name: str
    price: Amount
    currency: str
    credits: int
    active: bool


class PackageList(BaseModel):
    items: list[PackageView]


class BillingProfile(BaseModel):
    account_id: uuid.UUID
    name: str
    email: str
    address: str
    number_prefix: str
    tax_rate_bp: TaxRate
    has_saved_payment_method: bool


class SubscriptionView(BaseModel):
    subscription_id: uuid.UUID
    plan: str
    status: SubscriptionStatus
    current_period_start: AwareDatetime
    current_period_end: AwareDatetime
    next_plan: str | None = Field(description="The plan taking over at the period's end.")
    cancel_at_period_end: bool
    failed_attempts: int
    next_retry_at: AwareDatetime | None


class BillingDetails(BaseModel):
    """Who is billed, copied onto the invoice when it is finalized (empty on a draft)."""

    name: str = ""
    email: str = ""
    address: str = ""


class InvoiceLineView(BaseModel):
    description: str
    quantity: int
    unit_amount: Amount
    amount: Amount
    tax_rate_bp: TaxRate
    tax: Amount
    credits: int


class InvoiceSummary(BaseModel):
    invoice_id: uuid.UUID
    account_id: uuid.UUID
    number: str | None = Field(description="Null while a draft; gapless once finalized.")
    kind: Literal["subscription", "credit_package", "custom"]
    status: Literal["draft", "open", "paid", "void", "uncollectible"]
    currency: str
    subtotal: Amount
    tax: Amount
    total: Amount
    credits: int
    billing: BillingDetails
    subscription_id: uuid.UUID | None
    period_start: AwareDatetime | None
    period_end: AwareDatetime | None
    created_at: AwareDatetime
    finalized_at: AwareDatetime | None
    paid_at: AwareDatetime | None
    voided_at: AwareDatetime | None
    uncollectible_at: AwareDatetime | None
    lines: list[InvoiceLineView]


class CreditNoteView(BaseModel):
    credit_note_id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    amount: Amount
    currency: str
    credits_taken_back: int
    credits_already_spent: int
    reason: str
    created_at: AwareDatetime


class PaymentView(BaseModel):
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    attempt: int
    method: PaymentMethod
    status: PaymentStatus
    amount: Amount
    currency: str
    refunded_amount: Amount
    failure_reason: str | None
    checkout_url: str | None
    created_at: AwareDatetime
    updated_at: AwareDatetime


class InvoiceView(InvoiceSummary):
    credit_notes: list[CreditNoteView]
    payments: list[PaymentView]


class InvoicePage(BaseModel):
    items: list[InvoiceSummary]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class SubscriptionStarted(SubscriptionView):
    invoice: InvoiceView = Field(description="The first period's invoice, open and payable.")


class CreditNoteList(BaseModel):
    items: list[CreditNoteView]


class PaymentList(BaseModel):
    items: list[PaymentView]


class PaymentStarted(BaseModel):
    payment_id: uuid.UUID
    attempt: int
    status: PaymentStatus
    checkout_url: str | None = Field(description="Where to send the user (checkout).")
    client_secret: str | None = Field(description="For Stripe.js to confirm (payment_intent).")


class RefundRequested(BaseModel):
    refund_id: str
    status: Literal["requested"] = Field(
        description="The credit note follows with Stripe's `charge.refunded` webhook."
    )


class WebhookReceived(BaseModel):
    received: bool
    outcome: str


PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The PDF, rendered once and stored (the same bytes every time).",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "X-Checksum-SHA256": {
                "description": "SHA-256 of the bytes, hex.",
                "schema": {"type": "string"},
            },
            "ETag": {"description": "The quoted SHA-256.", "schema": {"type": "string"}},
        },
    }
}
"""`responses=` of the PDF routes: `application/pdf` instead of FastAPI's JSON default."""
