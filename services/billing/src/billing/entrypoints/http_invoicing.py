"""Internal HTTP API for the catalogue, subscriptions, invoices, credit notes and payments.

Callers: the gateway (service token, `X-Account-Id`, `X-Roles`). Thin: parse, authorize, call one
use case, answer from the read side. Another account's objects answer 404.
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_invoicing_queries import SqlAlchemyInvoicingQueries
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import invoices as invoicing
from billing.app.catalogue import Offer, put_package, put_plan
from billing.app.pay_invoice import pay_invoice, refund_invoice
from billing.app.subscriptions import cancel_subscription, change_plan, start_subscription
from billing.domain.payments import PaymentMethod
from billing.domain.subscriptions import CreditPackage, Interval, Plan, Subscription
from billing.ports import Clock, DocumentRenderer, PaymentGateway, PaymentsPolicy, Policy
from igny8.auth import Caller

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OfferBody(_Body):
    code: Code
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=0, le=100_000_000_00)
    currency: Currency
    credits: int = Field(gt=0, le=100_000_000)
    active: bool = True


class PlanBody(OfferBody):
    interval: Interval


class ProfileBody(_Body):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    address: str | None = Field(default=None, max_length=1000)
    number_prefix: str | None = Field(default=None, max_length=12)
    tax_rate_bp: int | None = Field(default=None, ge=0, le=10_000)


class PlanChoice(_Body):
    plan: Code


class PackageChoice(_Body):
    package: Code


class LineBody(_Body):
    description: str = Field(min_length=1, max_length=500)
    quantity: int = Field(gt=0, le=1_000_000)
    unit_amount: int = Field(ge=0, le=100_000_000_00)
    credits: int = Field(default=0, ge=0, le=100_000_000)
    tax_rate_bp: int | None = Field(default=None, ge=0, le=10_000)


class CustomInvoiceBody(_Body):
    currency: Currency
    lines: list[LineBody] = Field(min_length=1, max_length=100)


class PayBody(_Body):
    method: Literal["checkout", "payment_intent"] = "checkout"


class RefundBody(_Body):
    amount: int | None = Field(default=None, gt=0)


def _plan(p: Plan) -> dict[str, Any]:
    return {
        "plan_id": str(p.plan_id), "code": p.code, "version": p.version, "name": p.name,
        "interval": p.interval.value, "price": p.price, "currency": p.currency,
        "credits": p.credits, "active": p.active,
    }  # fmt: skip


def _package(p: CreditPackage) -> dict[str, Any]:
    return {
        "package_id": str(p.package_id), "code": p.code, "version": p.version, "name": p.name,
        "price": p.price, "currency": p.currency, "credits": p.credits, "active": p.active,
    }  # fmt: skip


def _subscription(s: Subscription) -> dict[str, Any]:
    return {
        "subscription_id": str(s.subscription_id),
        "plan": s.plan_code,
        "status": s.status.value,
        "current_period_start": s.period_start.isoformat(),
        "current_period_end": s.period_end.isoformat(),
        "next_plan": s.next_plan_code,
        "cancel_at_period_end": s.cancel_at_period_end,
        "failed_attempts": s.failed_attempts,
        "next_retry_at": s.next_retry_at.isoformat() if s.next_retry_at else None,
    }


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
    FrontDoor = Annotated[Caller, Depends(admits("gateway"))]

    def uow() -> BillingUnitOfWork:
        return BillingUnitOfWork(sessions)

    def tenant(caller: Caller, account_id: uuid.UUID) -> uuid.UUID:
        if caller.account_id != account_id and not caller.is_platform_admin:
            raise HTTPException(404, "account not found")
        return account_id

    def platform_admin(caller: Caller) -> None:
        if not caller.is_platform_admin:
            raise HTTPException(403, "platform_admin role required")

    async def invoice_view(account_id: uuid.UUID, invoice_id: uuid.UUID) -> dict[str, Any]:
        async with sessions() as session:
            found = await SqlAlchemyInvoicingQueries(session).invoice(account_id, invoice_id)
        if found is None:
            raise HTTPException(404, "invoice not found")
        return found

    # -- catalogue ------------------------------------------------------------------------

    @router.get("/plans", tags=["catalogue"])
    async def plans(caller: FrontDoor) -> dict[str, Any]:
        async with uow() as u:
            found = await u.catalogue.plans()
        return {"items": [_plan(p) for p in found if p.active or caller.is_platform_admin]}

    @router.put("/plans", tags=["catalogue"])
    async def put_plan_(body: PlanBody, caller: FrontDoor) -> dict[str, Any]:
        platform_admin(caller)
        async with uow() as u:
            plan = await put_plan(
                Offer(body.code, body.name, body.price, body.currency, body.credits, body.active),
                body.interval,
                u,
            )
            await u.commit()
        return _plan(plan)

    @router.get("/packages", tags=["catalogue"])
    async def packages(caller: FrontDoor) -> dict[str, Any]:
        async with uow() as u:
            found = await u.catalogue.packages()
        return {"items": [_package(p) for p in found if p.active or caller.is_platform_admin]}

    @router.put("/packages", tags=["catalogue"])
    async def put_package_(body: OfferBody, caller: FrontDoor) -> dict[str, Any]:
        platform_admin(caller)
        async with uow() as u:
            package = await put_package(
                Offer(body.code, body.name, body.price, body.currency, body.credits, body.active),
                u,
            )
            await u.commit()
        return _package(package)

    # -- billing profile ------------------------------------------------------------------

    @router.get("/accounts/{account_id}/billing-profile", tags=["invoices"])
    async def profile(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with uow() as u:
            found = await invoicing.profile_of(account_id, u)
            await u.commit()
        return {
            "account_id": str(account_id), "name": found.name, "email": found.email,
            "address": found.address, "number_prefix": found.number_prefix,
            "tax_rate_bp": found.tax_rate_bp,
            "has_saved_payment_method": found.default_payment_method is not None,
        }  # fmt: skip

    @router.put("/accounts/{account_id}/billing-profile", tags=["invoices"])
    async def put_profile(
        account_id: uuid.UUID, body: ProfileBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        if body.number_prefix is not None or body.tax_rate_bp is not None:
            platform_admin(caller)  # numbering and tax are the operator's to set
        async with uow() as u:
            await invoicing.change_profile(
                account_id, invoicing.ProfileChange(**body.model_dump()), u
            )
            await u.commit()
        return await profile(account_id, caller)

    # -- subscription ---------------------------------------------------------------------

    @router.get("/accounts/{account_id}/subscription", tags=["subscriptions"])
    async def subscription(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with uow() as u:
            found = await u.subscriptions.live_for_account(account_id)
        if found is None:
            raise HTTPException(404, "no subscription")
        return _subscription(found)

    @router.post("/accounts/{account_id}/subscription", status_code=201, tags=["subscriptions"])
    async def subscribe(
        account_id: uuid.UUID, body: PlanChoice, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        async with uow() as u:
            started, invoice = await start_subscription(account_id, body.plan, u, clock.now())
            await u.commit()
        await invoicing.store_documents(invoice.invoice_id, uow, renderer)
        return {
            **_subscription(started),
            "invoice": await invoice_view(account_id, invoice.invoice_id),
        }

    @router.put("/accounts/{account_id}/subscription", tags=["subscriptions"])
    async def change(account_id: uuid.UUID, body: PlanChoice, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with uow() as u:
            changed = await change_plan(account_id, body.plan, u)
            await u.commit()
        return _subscription(changed)

    @router.delete("/accounts/{account_id}/subscription", tags=["subscriptions"])
    async def cancel(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with uow() as u:
            cancelled = await cancel_subscription(account_id, u)
            await u.commit()
        return _subscription(cancelled)

    # -- invoices -------------------------------------------------------------------------

    @router.post("/accounts/{account_id}/package-purchases", status_code=201, tags=["invoices"])
    async def buy(
        account_id: uuid.UUID,
        body: PackageChoice,
        caller: FrontDoor,
        response: Response,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
    ) -> dict[str, Any]:
        """`Idempotency-Key` (optional): a retried purchase answers 200 with the first invoice."""
        tenant(caller, account_id)
        async with uow() as u:
            invoice, created = await invoicing.buy_package(
                account_id, body.package, u, clock.now(), idempotency_key
            )
            await u.commit()
        if not created:
            response.status_code = 200
        await invoicing.store_documents(invoice.invoice_id, uow, renderer)
        return await invoice_view(account_id, invoice.invoice_id)

    @router.post("/accounts/{account_id}/invoices", status_code=201, tags=["invoices"])
    async def custom(
        account_id: uuid.UUID, body: CustomInvoiceBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        platform_admin(caller)
        lines = [invoicing.CustomLine(**line.model_dump()) for line in body.lines]
        async with uow() as u:
            invoice = await invoicing.create_custom_invoice(
                account_id, body.currency, lines, u, clock.now()
            )
            await u.commit()
        return await invoice_view(account_id, invoice.invoice_id)

    @router.get("/accounts/{account_id}/invoices", tags=["invoices"])
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
        return {"items": items, "next_cursor": next_cursor}

    @router.get("/accounts/{account_id}/invoices/{invoice_id}", tags=["invoices"])
    async def get_invoice(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        return await invoice_view(account_id, invoice_id)

    async def pdf(account_id: uuid.UUID, invoice_id: uuid.UUID, document_id: uuid.UUID) -> Response:
        async with sessions() as session:
            found = await SqlAlchemyInvoicingQueries(session).document(account_id, document_id)
        if found is None:  # rendering after finalization failed or has not happened: do it now
            await invoice_view(account_id, invoice_id)
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

    @router.get("/accounts/{account_id}/invoices/{invoice_id}/pdf", tags=["invoices"])
    async def invoice_pdf(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> Response:
        tenant(caller, account_id)
        return await pdf(account_id, invoice_id, invoice_id)

    @router.post("/accounts/{account_id}/invoices/{invoice_id}/finalize", tags=["invoices"])
    async def finalize(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        platform_admin(caller)
        async with uow() as u:
            await invoicing.finalize_invoice(invoice_id, account_id, u, clock.now())
            await u.commit()
        await invoicing.store_documents(invoice_id, uow, renderer)
        return await invoice_view(account_id, invoice_id)

    @router.post("/accounts/{account_id}/invoices/{invoice_id}/void", tags=["invoices"])
    async def void(
        account_id: uuid.UUID, invoice_id: uuid.UUID, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        platform_admin(caller)
        async with uow() as u:
            await invoicing.void_invoice(invoice_id, account_id, u, clock.now())
            await u.commit()
        return await invoice_view(account_id, invoice_id)

    @router.post("/accounts/{account_id}/invoices/{invoice_id}/pay", tags=["payments"])
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

    @router.post("/accounts/{account_id}/invoices/{invoice_id}/refund", tags=["payments"])
    async def refund(
        account_id: uuid.UUID, invoice_id: uuid.UUID, body: RefundBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        platform_admin(caller)
        refund_id = await refund_invoice(invoice_id, account_id, body.amount, uow, gateway)
        return {"refund_id": refund_id, "status": "requested"}

    @router.get("/accounts/{account_id}/credit-notes", tags=["invoices"])
    async def notes(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with sessions() as session:
            return {"items": await SqlAlchemyInvoicingQueries(session).credit_notes(account_id)}

    @router.get(
        "/accounts/{account_id}/invoices/{invoice_id}/credit-notes/{note_id}/pdf",
        tags=["invoices"],
    )
    async def note_pdf(
        account_id: uuid.UUID, invoice_id: uuid.UUID, note_id: uuid.UUID, caller: FrontDoor
    ) -> Response:
        tenant(caller, account_id)
        return await pdf(account_id, invoice_id, note_id)

    @router.get("/accounts/{account_id}/payments", tags=["payments"])
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
