"""Stripe webhook events → payment outcomes, each event applied at most once.

The event id is recorded in the same transaction as its effect: a redelivery finds it and does
nothing; a delivery whose effect failed rolled the record back too, so Stripe's retry applies it.
Events reach us in any order; each outcome is idempotent on the payment (see `app.payments`).
"""

from __future__ import annotations

import uuid
from typing import Any

from billing.app.payments import Collected, payment_failed, payment_refunded, payment_succeeded
from billing.domain.errors import PaymentNotYetKnown
from billing.ports import Clock, InvoicingUnitOfWork, PaymentsPolicy, Policy, ProviderEvent


def _payment_id(obj: dict[str, Any]) -> uuid.UUID | None:
    metadata = obj.get("metadata") or {}
    try:
        return uuid.UUID(str(metadata.get("igny8_payment_id")))
    except ValueError:
        return None


def _collected(obj: dict[str, Any], amount_field: str) -> Collected:
    """The amount and currency the event says were collected (Stripe names them per object)."""
    amount, currency = obj.get(amount_field), obj.get("currency")
    return Collected(
        amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency if isinstance(currency, str) and currency else None,
    )


async def _find(obj: dict[str, Any], intent_id: Any, uow: InvoicingUnitOfWork) -> uuid.UUID | None:
    """Our payment, by the id we put in the metadata, else by the PaymentIntent's id."""
    payment_id = _payment_id(obj)
    if payment_id is not None and await uow.payments.get(payment_id) is not None:
        return payment_id
    if isinstance(intent_id, str) and intent_id:
        found = await uow.payments.by_intent(intent_id)
        if found is not None:
            return found.payment_id
    return None


async def handle_provider_event(
    event: ProviderEvent,
    uow: InvoicingUnitOfWork,
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
) -> str:
    """Apply one verified event; returns what it did (for the log and the test)."""
    if not await uow.payments.first_delivery(event.event_id, event.type, clock.now()):
        return "duplicate"
    obj = event.object
    if event.type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return "ignored"  # an asynchronous method settles later with its own event
        payment_id = await _find(obj, obj.get("payment_intent"), uow)
        if payment_id is None:
            return "unknown_payment"
        outcome = await payment_succeeded(
            payment_id, obj.get("payment_intent"), None, uow, clock, policy,
            _collected(obj, "amount_total"),
        )  # fmt: skip
        return outcome.value
    if event.type == "payment_intent.succeeded":
        payment_id = await _find(obj, obj.get("id"), uow)
        if payment_id is None:
            return "unknown_payment"
        method = obj.get("payment_method")
        outcome = await payment_succeeded(
            payment_id, obj.get("id"), method if isinstance(method, str) else None, uow, clock,
            policy, _collected(obj, "amount_received"),
        )  # fmt: skip
        return outcome.value
    if event.type in ("payment_intent.payment_failed", "checkout.session.async_payment_failed"):
        payment_id = await _find(obj, obj.get("id"), uow)
        if payment_id is None:
            return "unknown_payment"
        error = obj.get("last_payment_error") or {}
        reason = str(error.get("message") or error.get("code") or "payment failed")
        applied = await payment_failed(payment_id, reason, uow, clock, payments_policy)
        return "failed" if applied else "stale"  # a failure after a success changes nothing
    if event.type == "charge.refunded":
        payment_id = await _find(obj, obj.get("payment_intent"), uow)
        if payment_id is None:
            if obj.get("payment_intent"):
                # Possibly ours, ahead of the success that tells us its PaymentIntent: refuse
                # (the event record rolls back with it) so Stripe delivers it again later.
                raise PaymentNotYetKnown(f"no payment known for {obj.get('payment_intent')}")
            return "unknown_payment"
        refunded = int(obj.get("amount_refunded") or 0)
        reference = f"{obj.get('id')}:{refunded}"
        note = await payment_refunded(
            payment_id, refunded, reference, uow, clock, policy, _collected(obj, "amount_captured")
        )
        return "refunded" if note else "already_refunded"
    return "ignored"
