"""Stripe's webhook endpoint. Internal to billing: the gateway forwards Stripe's request to it
byte for byte with Stripe's headers. No service token: the signature is the authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app.provider_events import handle_provider_event
from billing.entrypoints.http_invoicing_models import WebhookReceived
from billing.ports import Clock, PaymentGateway, PaymentsPolicy, Policy
from igny8.observability import get_logger
from igny8.webapi import errors, signed_by

log = get_logger(__name__)
MAX_BODY_BYTES = 512 * 1024
#: The part of Stripe's event object billing reads (Stripe's own fields beyond these pass).
STRIPE_EVENT = {
    "type": "object",
    "description": "A Stripe event (https://docs.stripe.com/api/events/object).",
    "required": ["id", "type", "data"],
    "properties": {
        "id": {"type": "string", "example": "evt_1NG8Du2eZvKYlo2CUI79vXWy"},
        "object": {"type": "string", "enum": ["event"]},
        "type": {"type": "string", "example": "payment_intent.succeeded"},
        "created": {"type": "integer"},
        "livemode": {"type": "boolean"},
        "data": {
            "type": "object",
            "required": ["object"],
            "properties": {"object": {"type": "object", "description": "The event's object."}},
        },
    },
}

#: The raw body is read by hand (it must be verified byte for byte before it is parsed), so the
#: document declares it here rather than through a model.
WEBHOOK = {
    **signed_by(
        "stripeSignature",
        "Stripe-Signature",
        "Stripe's HMAC-SHA256 signature of the raw body with the endpoint's signing secret "
        "(`t=…,v1=…`); no service token.",
    ),
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": STRIPE_EVENT}},
    },
}


def create_webhook_router(
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
    gateway: PaymentGateway,
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/webhooks/stripe",
        tags=["webhooks"],
        summary="Stripe's events (exactly once per event id; authenticated by Stripe-Signature)",
        response_model=WebhookReceived,
        responses=errors(
            400,
            409,
            413,
            s400="The Stripe-Signature is missing, stale or does not verify.",
            s409="The event names a payment not recorded yet; Stripe retries it.",
        ),
        openapi_extra=WEBHOOK,
    )
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
