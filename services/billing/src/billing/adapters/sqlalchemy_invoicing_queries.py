"""Read side of invoices, credit notes, payments and documents. Every query is tenant-scoped."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_invoicing_tables import (
    credit_notes,
    documents,
    invoice_lines,
    invoices,
    payments,
)
from billing.domain.errors import InvalidCommand


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), uuid.UUID(row_id)
    except ValueError:
        raise InvalidCommand("not a cursor this API handed out") from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def invoice_json(row: Any, lines: list[Any]) -> dict[str, Any]:
    return {
        "invoice_id": str(row.invoice_id),
        "account_id": str(row.account_id),
        "number": row.number,
        "kind": row.kind,
        "status": row.status,
        "currency": row.currency,
        "subtotal": row.subtotal,
        "tax": row.tax,
        "total": row.total,
        "credits": row.credits,
        "billing": row.billing,
        "subscription_id": str(row.subscription_id) if row.subscription_id else None,
        "period_start": _iso(row.period_start),
        "period_end": _iso(row.period_end),
        "created_at": _iso(row.created_at),
        "finalized_at": _iso(row.finalized_at),
        "paid_at": _iso(row.paid_at),
        "voided_at": _iso(row.voided_at),
        "uncollectible_at": _iso(row.uncollectible_at),
        "lines": [
            {
                "description": ln.description,
                "quantity": ln.quantity,
                "unit_amount": ln.unit_amount,
                "amount": ln.amount,
                "tax_rate_bp": ln.tax_rate_bp,
                "tax": ln.tax,
                "credits": ln.credits,
            }
            for ln in lines
        ],
    }


def payment_json(row: Any) -> dict[str, Any]:
    return {
        "payment_id": str(row.payment_id),
        "invoice_id": str(row.invoice_id),
        "attempt": row.attempt,
        "method": row.method,
        "status": row.status,
        "amount": row.amount,
        "currency": row.currency,
        "refunded_amount": row.refunded_amount,
        "failure_reason": row.failure_reason,
        "checkout_url": row.checkout_url,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def note_json(row: Any) -> dict[str, Any]:
    return {
        "credit_note_id": str(row.credit_note_id),
        "invoice_id": str(row.invoice_id),
        "number": row.number,
        "amount": row.amount,
        "currency": row.currency,
        "credits_taken_back": row.credits_taken_back,
        "credits_already_spent": row.credits_already_spent,
        "reason": row.reason,
        "created_at": _iso(row.created_at),
    }


class SqlAlchemyInvoicingQueries:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def invoices(
        self, account_id: uuid.UUID, limit: int, cursor: str | None, status: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; the cursor names the last item returned."""
        query = sa.select(invoices).where(invoices.c.account_id == account_id)
        if status:
            query = query.where(invoices.c.status == status)
        if cursor:
            at, last = decode_cursor(cursor)
            query = query.where(
                sa.tuple_(invoices.c.created_at, invoices.c.invoice_id) < sa.tuple_(at, last)
            )
        query = query.order_by(invoices.c.created_at.desc(), invoices.c.invoice_id.desc())
        rows = (await self.session.execute(query.limit(limit + 1))).all()
        page = rows[:limit]
        lines: dict[uuid.UUID, list[Any]] = {r.invoice_id: [] for r in page}
        if page:
            for ln in await self.session.execute(
                sa.select(invoice_lines)
                .where(invoice_lines.c.invoice_id.in_(list(lines)))
                .order_by(invoice_lines.c.position)
            ):
                lines[ln.invoice_id].append(ln)
        items = [invoice_json(r, lines[r.invoice_id]) for r in page]
        more = len(rows) > limit
        return items, (encode_cursor(page[-1].created_at, page[-1].invoice_id) if more else None)

    async def invoice(self, account_id: uuid.UUID, invoice_id: uuid.UUID) -> dict[str, Any] | None:
        row = (
            await self.session.execute(
                sa.select(invoices).where(
                    invoices.c.invoice_id == invoice_id, invoices.c.account_id == account_id
                )
            )
        ).first()
        if row is None:
            return None
        lines = await self.session.execute(
            sa.select(invoice_lines)
            .where(invoice_lines.c.invoice_id == invoice_id)
            .order_by(invoice_lines.c.position)
        )
        found = invoice_json(row, list(lines))
        found["credit_notes"] = await self.credit_notes(account_id, invoice_id)
        found["payments"] = await self.payments(account_id, invoice_id)
        return found

    async def credit_notes(
        self, account_id: uuid.UUID, invoice_id: uuid.UUID | None = None
    ) -> list[dict[str, Any]]:
        query = sa.select(credit_notes).where(credit_notes.c.account_id == account_id)
        if invoice_id:
            query = query.where(credit_notes.c.invoice_id == invoice_id)
        rows = await self.session.execute(query.order_by(credit_notes.c.created_at.desc()))
        return [note_json(r) for r in rows]

    async def payments(
        self, account_id: uuid.UUID, invoice_id: uuid.UUID | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        query = sa.select(payments).where(payments.c.account_id == account_id)
        if invoice_id:
            query = query.where(payments.c.invoice_id == invoice_id)
        query = query.order_by(payments.c.created_at.desc(), payments.c.attempt.desc())
        return [payment_json(r) for r in await self.session.execute(query.limit(limit))]

    async def document(
        self, account_id: uuid.UUID, document_id: uuid.UUID
    ) -> tuple[bytes, str] | None:
        """The stored PDF and its SHA-256."""
        row = (
            await self.session.execute(
                sa.select(documents.c.content, documents.c.sha256).where(
                    documents.c.document_id == document_id, documents.c.account_id == account_id
                )
            )
        ).first()
        return (bytes(row.content), row.sha256) if row else None
