"""Stripe's webhook endpoint. Internal to billing: the gateway forwards Stripe's request to it
byte for byte with Stripe's headers. No service token: the signature is the authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.provider_events import handle_provider_event
from billing.ports import Clock, PaymentGateway, PaymentsPolicy, Policy
from igny8.observability import get_logger

log = get_logger(__name__)
MAX_BODY_BYTES = 512 * 1024


def create_webhook_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
    gateway: PaymentGateway,
) -> APIRouter:
    router = APIRouter()

    @router.post("/webhooks/stripe", tags=["webhooks"])
    async def stripe_webhook(request: Request) -> dict[str, Any]:
        # The raw body, verified before anything in it is read (InvalidSignature → 400).
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise HTTPException(413, "webhook body too large")
        event = gateway.verify_webhook(raw, request.headers.get("stripe-signature"))
        async with BillingUnitOfWork(sessions) as uow:
            outcome = await handle_provider_event(event, uow, clock, policy, payments_policy)
            await uow.commit()
        log.info("stripe event", event_id=event.event_id, type=event.type, outcome=outcome)
        return {"received": True, "outcome": outcome}

    return router
