"""Internal HTTP API for invoices, credit notes and payments (the catalogue, billing profile and
subscriptions are in `http_subscriptions`, included here).

Callers: the gateway (service token, `X-Account-Id`, `X-Roles`). Thin: parse, authorize, call one
use case, answer from the read side. Another account's objects answer 404.
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_invoicing_queries import SqlAlchemyInvoicingQueries
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import invoices as invoicing
from billing.app.pay_invoice import pay_invoice, refund_invoice
from billing.domain.payments import PaymentMethod
from billing.entrypoints.http_access import invoice_view, tenant
from billing.entrypoints.http_invoicing_models import (
    PDF,
    CreditNoteList,
    CustomInvoiceBody,
    InvoicePage,
    InvoiceView,
    PackageChoice,
    PayBody,
    PaymentList,
    PaymentStarted,
    RefundBody,
    RefundRequested,
)
from billing.entrypoints.http_subscriptions import create_subscriptions_router
from billing.ports import Clock, DocumentRenderer, PaymentGateway, PaymentsPolicy, Policy
from igny8.auth import Caller
from igny8.webapi import committed, errors


def create_invoicing_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
    gateway: PaymentGateway,
    renderer: DocumentRenderer,
    admits: Callable[..., Callable[..., Caller]],
) -> APIRouter:
    router = APIRouter()
    router.include_router(create_subscriptions_router(sessions, clock, renderer, admits))
    FrontDoor = Annotated[Caller, Depends(admits("gateway"))]

    def uow() -> BillingUnitOfWork:
        return BillingUnitOfWork(sessions)

    # -- invoices -------------------------------------------------------------------------

    @router.post(
        "/accounts/{account_id}/package-purchases",
        status_code=201,
        tags=["invoices"],
        summary="Buy a credit package: an open invoice (idempotent on Idempotency-Key)",
        response_model=InvoiceView,
        responses={
            200: {
                "model": InvoiceView,
                "description": "Replay of an earlier purchase with this key.",
            },
            **errors(
                404,
                409,
                s404="No such package or account.",
                s409="The Idempotency-Key was used for another package.",
            ),
        },
    )
    async def buy(
        account_id: uuid.UUID,
        body: PackageChoice,
        caller: FrontDoor,
        response: Response,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
    ) -> dict[str, Any]:
        """`Idempotency-Key` (optional): a retried purchase answers 200 with the first invoice."""
        tenant(caller, account_id)
        invoice, created = await committed(
            uow,
            lambda u: invoicing.buy_package(
                account_id, body.package, u, clock.now(), idempotency_key
            ),
        )
        if not created:
            response.status_code = 200
        await invoicing.store_documents(invoice.invoice_id, uow, renderer)
        return await invoice_view(sessions, account_id, invoice.invoice_id)

    @router.post(
        "/accounts/{account_id}/invoices",
        status_code=201,
        tags=["invoices"],
        summary="Create a draft invoice with custom lines (platform_admin)",
        response_model=InvoiceView,
        responses=errors(404),
    )
    async def custom(
        account_id: uuid.UUID, body: CustomInvoiceBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id, admin=True)
        lines = [invoicing.CustomLine(**line.model_dump()) for line in body.lines]
        invoice = await committed(
            uow,
            lambda u: invoicing.create_custom_invoice(
                account_id, body.currency, lines, u, clock.now()
            ),
        )
        return await invoice_view(sessions, account_id, invoice.invoice_id)

    @router.get(
        "/accounts/{account_id}/invoices",
        tags=["invoices"],
        summary="Invoices, newest first (cursor pagination)",
        response_model=InvoicePage,
        responses=errors(404),
    )
    async def list_invoices(
        account_id: uuid.UUID,
        caller: FrontDoor,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        status: Literal["draft", "open", "paid", "void", "uncollectible"] | None = None,
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            items, next_cursor = await SqlAlchemyInvoicingQueries(session).invoices(
                account_id, limit, cursor, status
            )
        return {"items": items, "has_more": next_cursor is not None, "next_cursor": next_cursor}

    @router.get(
        "/accounts/{account_id}/invoices/{invoice_id}",
        tags=["invoices"],
        summary="One invoice with its lines, payments and credit notes",
        response_model=InvoiceView,
        responses=errors(404),
    )
    async def get_invoice(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        return await invoice_view(sessions, account_id, invoice_id)

    async def pdf(account_id: uuid.UUID, invoice_id: uuid.UUID, document_id: uuid.UUID) -> Response:
        # The document must be this invoice's own or one of its credit notes': documents share
        # one table, so an id alone would serve a credit note as an invoice or another
        # invoice's note under this one.
        invoice = await invoice_view(sessions, account_id, invoice_id)
        notes = {note["credit_note_id"] for note in invoice["credit_notes"]}
        if document_id != invoice_id and str(document_id) not in notes:
            raise HTTPException(404, "no such credit note on this invoice")
        async with sessions() as session:
            found = await SqlAlchemyInvoicingQueries(session).document(account_id, document_id)
        if found is None:  # rendering after finalization failed or has not happened: do it now
            await invoicing.store_documents(invoice_id, uow, renderer)
            async with sessions() as session:
                found = await SqlAlchemyInvoicingQueries(session).document(account_id, document_id)
        if found is None:
            raise HTTPException(404, "no document (a draft has no PDF)")
        content, sha256 = found
        return Response(
            content,
            media_type="application/pdf",
            headers={"X-Checksum-SHA256": sha256, "ETag": f'"{sha256}"'},
        )

    @router.get(
        "/accounts/{account_id}/invoices/{invoice_id}/pdf",
        tags=["invoices"],
        summary="The invoice's PDF (finalized invoices only)",
        response_class=Response,
        responses={**PDF, **errors(404, s404="No such invoice, or a draft (which has no PDF).")},
    )
    async def invoice_pdf(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> Response:
        tenant(caller, account_id)
        return await pdf(account_id, invoice_id, invoice_id)

    @router.post(
        "/accounts/{account_id}/invoices/{invoice_id}/finalize",
        tags=["invoices"],
        summary="Finalize a draft: number it and make it payable (platform_admin)",
        response_model=InvoiceView,
        responses=errors(404),
    )
    async def finalize(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id, admin=True)
        await committed(
            uow, lambda u: invoicing.finalize_invoice(invoice_id, account_id, u, clock.now())
        )
        await invoicing.store_documents(invoice_id, uow, renderer)
        return await invoice_view(sessions, account_id, invoice_id)

    @router.post(
        "/accounts/{account_id}/invoices/{invoice_id}/void",
        tags=["invoices"],
        summary="Void an unpaid invoice (platform_admin)",
        response_model=InvoiceView,
        responses=errors(
            404, 409, s409="A paid invoice is corrected by a credit note, never voided."
        ),
    )
    async def void(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id, admin=True)
        await committed(
            uow, lambda u: invoicing.void_invoice(invoice_id, account_id, u, clock.now())
        )
        return await invoice_view(sessions, account_id, invoice_id)

    @router.post(
        "/accounts/{account_id}/invoices/{invoice_id}/pay",
        tags=["payments"],
        summary="Pay an open invoice: a Checkout URL or a PaymentIntent client secret",
        response_model=PaymentStarted,
        responses=errors(
            402,
            404,
            409,
            503,
            s402="The card was declined or Stripe refused the payment.",
            s409="Only an open invoice can be paid.",
            s503="Stripe cannot be reached; retry after `Retry-After` (the attempt is resent).",
        ),
    )
    async def pay(
        account_id: uuid.UUID, invoice_id: uuid.UUID, body: PayBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        payment = await pay_invoice(
            invoice_id, account_id, PaymentMethod(body.method), uow, gateway, clock, policy,
            payments_policy,
        )  # fmt: skip
        return {
            "payment_id": str(payment.payment_id),
            "attempt": payment.attempt,
            "status": payment.status.value,
            "checkout_url": payment.checkout_url,
            "client_secret": payment.client_secret,
        }

    @router.post(
        "/accounts/{account_id}/invoices/{invoice_id}/refund",
        tags=["payments"],
        summary="Refund a paid invoice, wholly or in part (platform_admin); a credit note follows",
        response_model=RefundRequested,
        responses=errors(
            402,
            404,
            409,
            503,
            s402="Stripe refused the refund.",
            s409="The invoice has no settled payment to refund.",
            s503="Stripe cannot be reached; retry after `Retry-After`.",
        ),
    )
    async def refund(
        account_id: uuid.UUID, invoice_id: uuid.UUID, body: RefundBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id, admin=True)
        refund_id = await refund_invoice(invoice_id, account_id, body.amount, uow, gateway)
        return {"refund_id": refund_id, "status": "requested"}

    @router.get(
        "/accounts/{account_id}/credit-notes",
        tags=["invoices"],
        summary="Credit notes (refunds), newest first",
        response_model=CreditNoteList,
        responses=errors(404),
    )
    async def notes(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            return {"items": await SqlAlchemyInvoicingQueries(session).credit_notes(account_id)}

    @router.get(
        "/accounts/{account_id}/invoices/{invoice_id}/credit-notes/{note_id}/pdf",
        tags=["invoices"],
        summary="A credit note's PDF",
        response_class=Response,
        responses={**PDF, **errors(404, s404="No such invoice or credit note.")},
    )
    async def note_pdf(
        account_id: uuid.UUID, invoice_id: uuid.UUID, note_id: uuid.UUID, caller: FrontDoor
    ) -> Response:
        tenant(caller, account_id)
        return await pdf(account_id, invoice_id, note_id)

    @router.get(
        "/accounts/{account_id}/payments",
        tags=["payments"],
        summary="Payment attempts, newest first",
        response_model=PaymentList,
        responses=errors(404),
    )
    async def list_payments(
        account_id: uuid.UUID,
        caller: FrontDoor,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            items = await SqlAlchemyInvoicingQueries(session).payments(account_id, limit=limit)
        return {"items": items}

    return router
