"""What a payment's outcome does: paid → invoice paid + credits granted exactly once; failed →
dunning for renewals; refunded → a credit note taking back unspent credits.

Every function runs inside the caller's transaction and locks the invoice, then the payment (the
same order everywhere, so two webhooks for one invoice queue instead of deadlocking). Each is a
no-op when the payment already has that outcome: redelivered, reordered or late webhooks change
nothing twice.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from billing.app.commands import GrantCredits
from billing.app.grant_credits import grant_credits
from billing.app.invoices import invoice_event, profile_of
from billing.app.settle import settle
from billing.domain.errors import InvoiceStateError, UnknownInvoice
from billing.domain.invoicing import (
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    credits_for_refund,
    document_number,
)
from billing.domain.model import GrantKind
from billing.domain.payments import Payment, PaymentMethod
from billing.ports import Clock, InvoicingUnitOfWork, PaymentsPolicy, Policy
from igny8.contracts.invoices import PaymentChanged

_log = logging.getLogger(__name__)


def grant_key(invoice_id: uuid.UUID) -> str:
    """The grant's idempotency key: one grant per invoice, whatever calls it how often."""
    return f"invoice:{invoice_id}"


def payment_event(payment: Payment, credit_note_id: uuid.UUID | None = None) -> PaymentChanged:
    return PaymentChanged(
        payment_id=payment.payment_id,
        invoice_id=payment.invoice_id,
        attempt=payment.attempt,
        method=payment.method.value,
        status=payment.status.value,
        amount=payment.amount,
        currency=payment.currency,
        refunded_amount=payment.refunded_amount,
        failure_reason=payment.failure_reason,
        credit_note_id=credit_note_id,
    )


async def locked(payment_id: uuid.UUID, uow: InvoicingUnitOfWork) -> tuple[Invoice, Payment]:
    found = await uow.payments.get(payment_id)
    if found is None:
        raise UnknownInvoice(f"no payment {payment_id}")
    invoice = await uow.invoices.get(found.invoice_id, lock=True)
    payment = await uow.payments.get(payment_id, lock=True)
    assert invoice is not None and payment is not None
    return invoice, payment


@dataclass(frozen=True)
class Collected:
    """What the provider's event says it collected; None where the event does not say."""

    amount: int | None = None
    currency: str | None = None


class PaymentOutcome(StrEnum):
    SETTLED = "succeeded"
    ALREADY_SETTLED = "already_settled"
    SHORT = "amount_mismatch"
    """Money arrived but not the invoice's total (or in another currency): recorded, the invoice
    stays open and no credits are granted; an operator refunds or settles it by hand."""


async def payment_succeeded(
    payment_id: uuid.UUID,
    intent_id: str | None,
    payment_method: str | None,
    uow: InvoicingUnitOfWork,
    clock: Clock,
    policy: Policy,
    collected: Collected = Collected(),
) -> PaymentOutcome:
    """Settle the payment and, when the collected money covers it, pay the invoice and grant."""
    now = clock.now()
    invoice, payment = await locked(payment_id, uow)
    if not payment.succeed(intent_id):
        return PaymentOutcome.ALREADY_SETTLED
    await uow.payments.save(payment, now)
    await uow.emit("payment.succeeded", payment_event(payment), payment.account_id)
    if not payment.covered_by(collected.amount, collected.currency):
        _log.error(
            "payment %s collected %s %s for invoice %s due %s %s: invoice left open, no credits",
            payment.payment_id, collected.amount, collected.currency, invoice.invoice_id,
            payment.amount, payment.currency,
        )  # fmt: skip
        return PaymentOutcome.SHORT
    try:
        paid_now = invoice.mark_paid(now)
    except InvoiceStateError:
        # Paid after it was voided: the money is recorded and needs a refund; no credits.
        return PaymentOutcome.SETTLED
    if not paid_now:  # an earlier attempt paid it already
        return PaymentOutcome.SETTLED
    await uow.invoices.save(invoice)
    await uow.emit("invoice.paid", invoice_event(invoice, now), invoice.account_id)
    await _grant(invoice, uow, clock, policy)
    if invoice.subscription_id is not None:
        subscription = await uow.subscriptions.get(invoice.subscription_id, lock=True)
        if subscription is not None:
            subscription.charge_succeeded()
            await uow.subscriptions.save(subscription)
        if payment_method:  # renewals charge the method the customer last paid with
            profile = await profile_of(invoice.account_id, uow)
            if profile.default_payment_method != payment_method:
                await uow.invoices.save_profile(
                    replace(profile, default_payment_method=payment_method)
                )
    return PaymentOutcome.SETTLED


async def _grant(invoice: Invoice, uow: InvoicingUnitOfWork, clock: Clock, policy: Policy) -> None:
    if invoice.credits <= 0:
        return
    if invoice.kind is InvoiceKind.SUBSCRIPTION:
        if invoice.period_end is None or invoice.period_end <= clock.now():
            return  # paid after its period ended: those plan credits can no longer be used
        kind, expires = GrantKind.PLAN, invoice.period_end
    else:
        kind, expires = GrantKind.PAID, None
    await grant_credits(
        GrantCredits(
            invoice.account_id, invoice.credits, kind, grant_key(invoice.invoice_id), expires
        ),
        uow,
        clock,
        policy,
    )


async def payment_failed(
    payment_id: uuid.UUID,
    reason: str,
    uow: InvoicingUnitOfWork,
    clock: Clock,
    payments_policy: PaymentsPolicy,
) -> bool:
    """Record a failed attempt; a renewal charge walks the dunning schedule."""
    now = clock.now()
    invoice, payment = await locked(payment_id, uow)
    if not payment.fail(reason):
        return False
    await uow.payments.save(payment, now)
    await uow.emit("payment.failed", payment_event(payment), payment.account_id)
    if invoice.subscription_id is None or payment.method is not PaymentMethod.PAYMENT_INTENT:
        return True
    if invoice.status is not InvoiceStatus.OPEN:
        return True
    subscription = await uow.subscriptions.get(invoice.subscription_id, lock=True)
    if subscription is None:
        return True
    if subscription.charge_failed(now, payments_policy.dunning):
        invoice.mark_uncollectible(now)
        await uow.invoices.save(invoice)
    await uow.subscriptions.save(subscription)
    return True


async def payment_refunded(
    payment_id: uuid.UUID,
    refunded_total: int,
    refund_reference: str,
    uow: InvoicingUnitOfWork,
    clock: Clock,
    policy: Policy,
    collected: Collected = Collected(),
) -> CreditNote | None:
    """A refund (cumulative `refunded_total`, as Stripe's charge reports it) → a credit note.

    Takes back the invoice's credits in proportion to the money refunded, from the grant's unspent
    credits only: never below zero; what was spent stays spent, and the note says how much.
    """
    now = clock.now()
    invoice, payment = await locked(payment_id, uow)
    if not payment.settled:  # a refunded charge had succeeded: settle first, whatever the order
        await payment_succeeded(
            payment_id, payment.provider_intent_id, None, uow, clock, policy, collected
        )
        invoice, payment = await locked(payment_id, uow)
    refunded = payment.refund(refunded_total)
    if refunded == 0:
        return None
    await uow.payments.save(payment, now)
    earlier = await uow.invoices.credit_notes(invoice.invoice_id)
    accounted = sum(n.credits_taken_back + n.credits_already_spent for n in earlier)
    due = credits_for_refund(invoice.credits, invoice.total, payment.refunded_amount, accounted)
    note_id = uuid.uuid4()
    taken = 0
    granted = await uow.ledger.grant_for_key(invoice.account_id, grant_key(invoice.invoice_id))
    if due and granted is not None:
        ledger = await uow.ledger.load(invoice.account_id, now)
        assert ledger is not None
        ledger.expire_lapsed_grants()
        taken = ledger.revoke(granted[0].grant_id, due, str(note_id))
        await settle(ledger, uow, policy)
    note = await _credit_note(
        invoice, note_id, refunded, taken, due - taken, refund_reference, uow, now
    )
    await uow.emit(
        "payment.refunded", payment_event(payment, note.credit_note_id), payment.account_id
    )
    return note


async def _credit_note(
    invoice: Invoice,
    note_id: uuid.UUID,
    amount: int,
    taken: int,
    spent: int,
    refund_reference: str,
    uow: InvoicingUnitOfWork,
    now: datetime,
) -> CreditNote:
    profile = await profile_of(invoice.account_id, uow)
    sequence = await uow.invoices.next_number(invoice.account_id, "credit_note", now.year)
    note = CreditNote(
        credit_note_id=note_id,
        invoice_id=invoice.invoice_id,
        account_id=invoice.account_id,
        number=document_number(profile.number_prefix, "credit_note", now.year, sequence),
        amount=amount,
        currency=invoice.currency,
        credits_taken_back=taken,
        credits_already_spent=spent,
        reason="refund",
        created_at=now,
        refund_reference=refund_reference,
    )
    await uow.invoices.add_credit_note(note)
    return note
