"""PostgreSQL repositories of the catalogue, invoices, payments and subscriptions."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_invoicing_tables import (
    billing_profiles,
    credit_notes,
    document_counters,
    documents,
    invoice_lines,
    invoices,
    payments,
    stripe_events,
)
from billing.adapters.sqlalchemy_tables import billing_accounts
from billing.domain.invoicing import (
    BillingDetails,
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billing.domain.payments import Payment, PaymentMethod, PaymentStatus
from billing.ports import BillingProfile


def _profile(r: Any) -> BillingProfile:
    return BillingProfile(
        r.account_id, r.number_prefix, r.tax_rate_bp, r.name, r.email, r.address,
        r.stripe_customer_id, r.default_payment_method,
    )  # fmt: skip


def _invoice_values(invoice: Invoice) -> dict[str, Any]:
    return {
        "status": invoice.status.value,
        "number": invoice.number,
        "billing": asdict(invoice.billing),
        "finalized_at": invoice.finalized_at,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
        "uncollectible_at": invoice.uncollectible_at,
    }


def _note(r: Any) -> CreditNote:
    return CreditNote(
        r.credit_note_id, r.invoice_id, r.account_id, r.number, r.amount, r.currency,
        r.credits_taken_back, r.credits_already_spent, r.reason, r.created_at, r.refund_reference,
    )  # fmt: skip


class SqlAlchemyInvoiceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def profile(self, account_id: uuid.UUID, lock: bool = False) -> BillingProfile | None:
        query = sa.select(billing_profiles).where(billing_profiles.c.account_id == account_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return _profile(row) if row else None

    async def ensure_profile(
        self, account_id: uuid.UUID, default_prefix: str
    ) -> BillingProfile | None:
        known = await self.profile(account_id)
        if known is not None:
            return known
        await self.session.execute(
            insert(billing_profiles)
            .from_select(
                ["account_id", "number_prefix"],
                sa.select(billing_accounts.c.account_id, sa.literal(default_prefix)).where(
                    billing_accounts.c.account_id == account_id
                ),
            )
            .on_conflict_do_nothing()
        )
        return await self.profile(account_id)

    async def save_profile(self, profile: BillingProfile) -> None:
        values = asdict(profile)
        statement = insert(billing_profiles).values(**values)
        values.pop("account_id")
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["account_id"], set_=values)
        )

    async def add(self, invoice: Invoice) -> None:
        await self.session.execute(
            sa.insert(invoices).values(
                invoice_id=invoice.invoice_id,
                account_id=invoice.account_id,
                kind=invoice.kind.value,
                currency=invoice.currency,
                subtotal=invoice.subtotal,
                tax=invoice.tax,
                total=invoice.total,
                credits=invoice.credits,
                package_id=invoice.package_id,
                plan_id=invoice.plan_id,
                subscription_id=invoice.subscription_id,
                period_start=invoice.period_start,
                period_end=invoice.period_end,
                created_at=invoice.created_at,
                request_key=invoice.request_key,
                **_invoice_values(invoice),
            )
        )
        await self.session.execute(
            sa.insert(invoice_lines),
            [
                {
                    "invoice_id": invoice.invoice_id,
                    "position": i,
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit_amount": line.unit_amount,
                    "amount": line.amount,
                    "tax_rate_bp": line.tax_rate_bp,
                    "tax": line.tax,
                    "credits": line.credits,
                }
                for i, line in enumerate(invoice.lines)
            ],
        )

    async def get(
        self, invoice_id: uuid.UUID, account_id: uuid.UUID | None = None, lock: bool = False
    ) -> Invoice | None:
        query = sa.select(invoices).where(invoices.c.invoice_id == invoice_id)
        if account_id is not None:
            query = query.where(invoices.c.account_id == account_id)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        if row is None:
            return None
        lines = await self.session.execute(
            sa.select(invoice_lines)
            .where(invoice_lines.c.invoice_id == invoice_id)
            .order_by(invoice_lines.c.position)
        )
        return Invoice(
            invoice_id=row.invoice_id,
            account_id=row.account_id,
            kind=InvoiceKind(row.kind),
            currency=row.currency,
            lines=[
                InvoiceLine(ln.description, ln.quantity, ln.unit_amount, ln.tax_rate_bp, ln.credits)
                for ln in lines
            ],
            created_at=row.created_at,
            status=InvoiceStatus(row.status),
            number=row.number,
            billing=BillingDetails(**row.billing),
            package_id=row.package_id,
            plan_id=row.plan_id,
            subscription_id=row.subscription_id,
            period_start=row.period_start,
            period_end=row.period_end,
            finalized_at=row.finalized_at,
            paid_at=row.paid_at,
            voided_at=row.voided_at,
            uncollectible_at=row.uncollectible_at,
            request_key=row.request_key,
        )

    async def save(self, invoice: Invoice) -> None:
        await self.session.execute(
            sa.update(invoices)
            .where(invoices.c.invoice_id == invoice.invoice_id)
            .values(**_invoice_values(invoice))
        )

    async def by_request_key(self, account_id: uuid.UUID, request_key: str) -> Invoice | None:
        invoice_id = (
            await self.session.execute(
                sa.select(invoices.c.invoice_id).where(
                    invoices.c.account_id == account_id, invoices.c.request_key == request_key
                )
            )
        ).scalar()
        return await self.get(invoice_id) if invoice_id else None

    async def for_period(
        self, subscription_id: uuid.UUID, period_start: datetime
    ) -> Invoice | None:
        invoice_id = (
            await self.session.execute(
                sa.select(invoices.c.invoice_id).where(
                    invoices.c.subscription_id == subscription_id,
                    invoices.c.period_start == period_start,
                )
            )
        ).scalar()
        return await self.get(invoice_id) if invoice_id else None

    async def next_number(self, account_id: uuid.UUID, series: str, year: int) -> int:
        # The upsert takes the counter row's lock until commit: concurrent finalizations of one
        # account queue here, and a rollback returns the number (a sequence would leave a gap).
        statement = insert(document_counters).values(
            account_id=account_id, series=series, year=year, last_number=1
        )
        bumped = statement.on_conflict_do_update(
            index_elements=["account_id", "series", "year"],
            set_={"last_number": document_counters.c.last_number + 1},
        ).returning(document_counters.c.last_number)
        return int((await self.session.execute(bumped)).scalar_one())

    async def add_credit_note(self, note: CreditNote) -> None:
        await self.session.execute(sa.insert(credit_notes).values(**asdict(note)))

    async def credit_notes(self, invoice_id: uuid.UUID) -> list[CreditNote]:
        rows = await self.session.execute(
            sa.select(credit_notes)
            .where(credit_notes.c.invoice_id == invoice_id)
            .order_by(credit_notes.c.created_at, credit_notes.c.number)
        )
        return [_note(r) for r in rows]

    async def credit_note_for_refund(self, refund_reference: str) -> CreditNote | None:
        row = (
            await self.session.execute(
                sa.select(credit_notes).where(credit_notes.c.refund_reference == refund_reference)
            )
        ).first()
        return _note(row) if row else None

    async def store_document(
        self, document_id: uuid.UUID, account_id: uuid.UUID, kind: str, content: bytes
    ) -> None:
        await self.session.execute(
            insert(documents)
            .values(
                document_id=document_id,
                account_id=account_id,
                kind=kind,
                content_type="application/pdf",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                created_at=sa.func.now(),
            )
            .on_conflict_do_nothing()
        )

    async def has_document(self, document_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            sa.select(documents.c.document_id).where(documents.c.document_id == document_id)
        )
        return found.first() is not None


def _payment(r: Any) -> Payment:
    return Payment(
        payment_id=r.payment_id,
        invoice_id=r.invoice_id,
        account_id=r.account_id,
        attempt=r.attempt,
        method=PaymentMethod(r.method),
        amount=r.amount,
        currency=r.currency,
        created_at=r.created_at,
        status=PaymentStatus(r.status),
        provider_session_id=r.provider_session_id,
        checkout_url=r.checkout_url,
        provider_intent_id=r.provider_intent_id,
        client_secret=r.client_secret,
        failure_reason=r.failure_reason,
        refunded_amount=r.refunded_amount,
    )


_PAYMENT_MUTABLE = (
    "status", "provider_session_id", "checkout_url", "provider_intent_id", "client_secret",
    "failure_reason", "refunded_amount",
)  # fmt: skip


class SqlAlchemyPaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, payment: Payment) -> None:
        values = asdict(payment)
        values["method"] = payment.method.value
        values["status"] = payment.status.value
        await self.session.execute(
            sa.insert(payments).values(
                **values, idempotency_key=payment.idempotency_key, updated_at=payment.created_at
            )
        )

    async def _one(self, where: Any, lock: bool) -> Payment | None:
        query = sa.select(payments).where(where)
        row = (await self.session.execute(query.with_for_update() if lock else query)).first()
        return _payment(row) if row else None

    async def get(self, payment_id: uuid.UUID, lock: bool = False) -> Payment | None:
        return await self._one(payments.c.payment_id == payment_id, lock)

    async def by_intent(self, intent_id: str, lock: bool = False) -> Payment | None:
        return await self._one(payments.c.provider_intent_id == intent_id, lock)

    async def latest(self, invoice_id: uuid.UUID) -> Payment | None:
        row = (
            await self.session.execute(
                sa.select(payments)
                .where(payments.c.invoice_id == invoice_id)
                .order_by(payments.c.attempt.desc())
                .limit(1)
            )
        ).first()
        return _payment(row) if row else None

    async def save(self, payment: Payment, now: datetime) -> None:
        values = {name: getattr(payment, name) for name in _PAYMENT_MUTABLE}
        values["status"] = payment.status.value
        await self.session.execute(
            sa.update(payments)
            .where(payments.c.payment_id == payment.payment_id)
            .values(**values, updated_at=now)
        )

    async def stale_pending(self, before: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            sa.select(payments.c.payment_id)
            .where(
                payments.c.status == "pending",
                payments.c.method == "payment_intent",
                payments.c.created_at < before,
            )
            .order_by(payments.c.created_at)
            .limit(limit)
        )
        return list(rows.scalars())

    async def first_delivery(self, event_id: str, event_type: str, now: datetime) -> bool:
        inserted = await self.session.execute(
            insert(stripe_events)
            .values(event_id=event_id, type=event_type, received_at=now)
            .on_conflict_do_nothing()
            .returning(stripe_events.c.event_id)
        )
        return inserted.first() is not None
