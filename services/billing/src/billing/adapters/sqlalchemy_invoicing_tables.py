"""Tables of the catalogue, subscriptions, invoices, credit notes, payments and Stripe events."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from billing.adapters.sqlalchemy_tables import metadata


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _account() -> sa.Column[object]:
    return sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("billing_accounts.account_id"),
        nullable=False,
    )


billing_profiles = sa.Table(
    "billing_profiles",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("billing_accounts.account_id"),
        primary_key=True,
    ),
    sa.Column("number_prefix", sa.Text, nullable=False),
    sa.Column("tax_rate_bp", sa.Integer, nullable=False, server_default="0"),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    sa.Column("email", sa.Text, nullable=False, server_default=""),
    sa.Column("address", sa.Text, nullable=False, server_default=""),
    sa.Column("stripe_customer_id", sa.Text, nullable=True),
    sa.Column("default_payment_method", sa.Text, nullable=True),
    sa.CheckConstraint("tax_rate_bp BETWEEN 0 AND 10000", name="tax_rate"),
)


def _offer_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("interval", sa.Text, nullable=False),
    *_offer_columns(),
    sa.UniqueConstraint("code", "version", name="uq_plans_code_version"),
    sa.CheckConstraint("interval IN ('month', 'year')", name="interval"),
    sa.CheckConstraint("price >= 0 AND credits > 0", name="amounts"),
)

credit_packages = sa.Table(
    "credit_packages",
    metadata,
    sa.Column("package_id", UUID(as_uuid=True), primary_key=True),
    *_offer_columns(),
    sa.UniqueConstraint("code", "version", name="uq_credit_packages_code_version"),
    sa.CheckConstraint("price >= 0 AND credits > 0", name="amounts"),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("subscription_id", UUID(as_uuid=True), primary_key=True),
    _account(),
    sa.Column("plan_code", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    _ts("period_start", False),
    _ts("period_end", False),
    sa.Column("next_plan_code", sa.Text, nullable=True),
    sa.Column("cancel_at_period_end", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("failed_attempts", sa.Integer, nullable=False, server_default="0"),
    _ts("next_retry_at"),
    _ts("past_due_since"),
    _ts("cancelled_at"),
    _ts("created_at", False),
    sa.CheckConstraint("status IN ('active', 'past_due', 'cancelled')", name="status"),
)
# One live subscription per account, enforced by the database.
sa.Index(
    "uq_subscriptions_live",
    subscriptions.c.account_id,
    unique=True,
    postgresql_where=sa.text("status <> 'cancelled'"),
)

document_counters = sa.Table(
    "document_counters",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("series", sa.Text, primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("invoice_id", UUID(as_uuid=True), primary_key=True),
    _account(),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("number", sa.Text, nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal", sa.BigInteger, nullable=False),
    sa.Column("tax", sa.BigInteger, nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
    sa.Column("billing", JSONB, nullable=False),
    sa.Column("package_id", UUID(as_uuid=True), nullable=True),
    sa.Column("plan_id", UUID(as_uuid=True), nullable=True),
    sa.Column("subscription_id", UUID(as_uuid=True), nullable=True),
    _ts("period_start"),
    _ts("period_end"),
    _ts("created_at", False),
    _ts("finalized_at"),
    _ts("paid_at"),
    _ts("voided_at"),
    _ts("uncollectible_at"),
    # The caller's Idempotency-Key of the request that created it: a retried purchase finds it.
    sa.Column("request_key", sa.Text, nullable=True),
    sa.UniqueConstraint("account_id", "number", name="uq_invoices_account_number"),
    sa.UniqueConstraint("account_id", "request_key", name="uq_invoices_request_key"),
    # A subscription period is invoiced once, however often the renewal job runs.
    sa.UniqueConstraint("subscription_id", "period_start", name="uq_invoices_period"),
    sa.CheckConstraint("kind IN ('subscription', 'credit_package', 'custom')", name="kind"),
    sa.CheckConstraint(
        "status IN ('draft', 'open', 'paid', 'void', 'uncollectible')", name="status"
    ),
    sa.CheckConstraint("(status = 'draft') = (number IS NULL)", name="numbered_when_final"),
    sa.CheckConstraint("subtotal >= 0 AND tax >= 0 AND total = subtotal + tax", name="totals"),
)
sa.Index("ix_invoices_account_created", invoices.c.account_id, invoices.c.created_at)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    sa.Column(
        "invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.invoice_id"), primary_key=True
    ),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("unit_amount", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("tax_rate_bp", sa.Integer, nullable=False),
    sa.Column("tax", sa.BigInteger, nullable=False),
    sa.Column("credits", sa.BigInteger, nullable=False),
)

credit_notes = sa.Table(
    "credit_notes",
    metadata,
    sa.Column("credit_note_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.invoice_id"), nullable=False
    ),
    _account(),
    sa.Column("number", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("credits_taken_back", sa.BigInteger, nullable=False),
    sa.Column("credits_already_spent", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("refund_reference", sa.Text, nullable=True, unique=True),
    _ts("created_at", False),
    sa.UniqueConstraint("account_id", "number", name="uq_credit_notes_account_number"),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("document_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("account_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    _ts("created_at", False),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "invoice_id", UUID(as_uuid=True), sa.ForeignKey("invoices.invoice_id"), nullable=False
    ),
    _account(),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
    sa.Column("provider_session_id", sa.Text, nullable=True),
    sa.Column("checkout_url", sa.Text, nullable=True),
    sa.Column("provider_intent_id", sa.Text, nullable=True),
    sa.Column("client_secret", sa.Text, nullable=True),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("refunded_amount", sa.BigInteger, nullable=False, server_default="0"),
    _ts("created_at", False),
    _ts("updated_at", False),
    sa.UniqueConstraint("invoice_id", "attempt", name="uq_payments_invoice_attempt"),
    sa.CheckConstraint("method IN ('checkout', 'payment_intent')", name="method"),
    sa.CheckConstraint(
        "status IN ('pending', 'processing', 'succeeded', 'failed', 'refunded')", name="status"
    ),
)
sa.Index("ix_payments_intent", payments.c.provider_intent_id)

stripe_events = sa.Table(
    "stripe_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    _ts("received_at", False),
)
