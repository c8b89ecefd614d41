"""Internal HTTP API for the catalogue (plans, credit packages), the billing profile and the
subscription. Callers: the gateway (service token, `X-Account-Id`, `X-Roles`). Thin: parse,
authorize, call one use case, answer from the read side."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import invoices as invoicing
from billing.app.catalogue import Offer, put_package, put_plan
from billing.app.subscriptions import cancel_subscription, change_plan, start_subscription
from billing.domain.subscriptions import CreditPackage, Plan, Subscription
from billing.entrypoints.http_access import invoice_view, platform_admin, tenant
from billing.entrypoints.http_invoicing_models import (
    BillingProfile,
    OfferBody,
    PackageList,
    PackageView,
    PlanBody,
    PlanChoice,
    PlanList,
    PlanView,
    ProfileBody,
    SubscriptionStarted,
    SubscriptionView,
)
from billing.ports import Clock, DocumentRenderer
from igny8.auth import Caller
from igny8.webapi import committed, errors


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


def create_subscriptions_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    renderer: DocumentRenderer,
    admits: Callable[..., Callable[..., Caller]],
) -> APIRouter:
    router = APIRouter()
    FrontDoor = Annotated[Caller, Depends(admits("gateway"))]

    def uow() -> BillingUnitOfWork:
        return BillingUnitOfWork(sessions)

    # -- catalogue ------------------------------------------------------------------------

    @router.get(
        "/plans",
        tags=["catalogue"],
        summary="The plans on sale (platform admins also see retired ones)",
        response_model=PlanList,
    )
    async def plans(caller: FrontDoor) -> dict[str, Any]:
        async with uow() as u:
            found = await u.catalogue.plans()
        return {"items": [_plan(p) for p in found if p.active or caller.is_platform_admin]}

    @router.put(
        "/plans",
        tags=["catalogue"],
        summary="Create or revise a plan by code (platform_admin; a change makes a new version)",
        response_model=PlanView,
    )
    async def put_plan_(body: PlanBody, caller: FrontDoor) -> dict[str, Any]:
        platform_admin(caller)
        offer = Offer(body.code, body.name, body.price, body.currency, body.credits, body.active)
        return _plan(await committed(uow, lambda u: put_plan(offer, body.interval, u)))

    @router.get(
        "/packages",
        tags=["catalogue"],
        summary="The credit packages on sale (platform admins also see retired ones)",
        response_model=PackageList,
    )
    async def packages(caller: FrontDoor) -> dict[str, Any]:
        async with uow() as u:
            found = await u.catalogue.packages()
        return {"items": [_package(p) for p in found if p.active or caller.is_platform_admin]}

    @router.put(
        "/packages",
        tags=["catalogue"],
        summary="Create or revise a credit package by code (platform_admin)",
        response_model=PackageView,
    )
    async def put_package_(body: OfferBody, caller: FrontDoor) -> dict[str, Any]:
        platform_admin(caller)
        offer = Offer(body.code, body.name, body.price, body.currency, body.credits, body.active)
        return _package(await committed(uow, lambda u: put_package(offer, u)))

    # -- billing profile ------------------------------------------------------------------

    @router.get(
        "/accounts/{account_id}/billing-profile",
        tags=["invoices"],
        summary="Who invoices are addressed to, numbering and tax rate",
        response_model=BillingProfile,
        responses=errors(404),
    )
    async def profile(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        found = await committed(uow, lambda u: invoicing.profile_of(account_id, u))
        return {
            "account_id": str(account_id), "name": found.name, "email": found.email,
            "address": found.address, "number_prefix": found.number_prefix,
            "tax_rate_bp": found.tax_rate_bp,
            "has_saved_payment_method": found.default_payment_method is not None,
        }  # fmt: skip

    @router.put(
        "/accounts/{account_id}/billing-profile",
        tags=["invoices"],
        summary="Change the billing profile (numbering and tax: platform_admin)",
        response_model=BillingProfile,
        responses=errors(404),
    )
    async def put_profile(
        account_id: uuid.UUID, body: ProfileBody, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        if body.number_prefix is not None or body.tax_rate_bp is not None:
            platform_admin(caller)  # numbering and tax are the operator's to set
        change = invoicing.ProfileChange(**body.model_dump())
        await committed(uow, lambda u: invoicing.change_profile(account_id, change, u))
        return await profile(account_id, caller)

    # -- subscription ---------------------------------------------------------------------

    @router.get(
        "/accounts/{account_id}/subscription",
        tags=["subscriptions"],
        summary="The account's live subscription",
        response_model=SubscriptionView,
        responses=errors(404, s404="No live subscription, or no such account."),
    )
    async def subscription(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        async with uow() as u:
            found = await u.subscriptions.live_for_account(account_id)
        if found is None:
            raise HTTPException(404, "no subscription")
        return _subscription(found)

    @router.post(
        "/accounts/{account_id}/subscription",
        status_code=201,
        tags=["subscriptions"],
        summary="Subscribe to a plan; answers the first period's open invoice",
        response_model=SubscriptionStarted,
        responses=errors(
            404,
            409,
            s404="No such plan or account.",
            s409="The account already has a subscription.",
        ),
    )
    async def subscribe(
        account_id: uuid.UUID, body: PlanChoice, caller: FrontDoor
    ) -> dict[str, Any]:
        tenant(caller, account_id)
        started, invoice = await committed(
            uow, lambda u: start_subscription(account_id, body.plan, u, clock.now())
        )
        await invoicing.store_documents(invoice.invoice_id, uow, renderer)
        return {
            **_subscription(started),
            "invoice": await invoice_view(sessions, account_id, invoice.invoice_id),
        }

    @router.put(
        "/accounts/{account_id}/subscription",
        tags=["subscriptions"],
        summary="Change plan (upgrades at once, downgrades at the period's end)",
        response_model=SubscriptionView,
        responses=errors(
            404,
            409,
            s404="No subscription, or no such plan.",
            s409="The subscription's state does not allow it.",
        ),
    )
    async def change(account_id: uuid.UUID, body: PlanChoice, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        return _subscription(await committed(uow, lambda u: change_plan(account_id, body.plan, u)))

    @router.delete(
        "/accounts/{account_id}/subscription",
        tags=["subscriptions"],
        summary="Cancel at the end of the current period",
        response_model=SubscriptionView,
        responses=errors(
            404,
            409,
            s404="No live subscription.",
            s409="The subscription's state does not allow it.",
        ),
    )
    async def cancel(account_id: uuid.UUID, caller: FrontDoor) -> dict[str, Any]:
        tenant(caller, account_id)
        return _subscription(await committed(uow, lambda u: cancel_subscription(account_id, u)))

    return router
