"""Paying an invoice through the payment provider.

Each attempt is stored with its idempotency key (invoice + attempt) and committed *before* the
provider is called; the call happens outside any transaction, and its answer is recorded in a
second one. A crash in between leaves a pending attempt that the next call (or the renewal job)
sends again under the same key, so the provider creates nothing twice.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from billing.app.invoices import UowFactory, profile_of
from billing.app.payments import payment_failed, payment_succeeded
from billing.domain.errors import InvalidCommand, InvoiceStateError, PaymentFailed, UnknownInvoice
from billing.domain.invoicing import Invoice
from billing.domain.payments import Payment, PaymentMethod, PaymentStatus
from billing.ports import (
    Clock,
    InvoicingUnitOfWork,
    PaymentGateway,
    PaymentsPolicy,
    Policy,
)


async def start_attempt(
    invoice: Invoice, method: PaymentMethod, uow: InvoicingUnitOfWork, clock: Clock
) -> Payment:
    """The open attempt of this method, or a new one (the invoice is locked by the caller)."""
    invoice.require_payable()
    latest = await uow.payments.latest(invoice.invoice_id)
    if (
        latest is not None
        and latest.method is method
        and latest.status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING)
    ):
        return latest
    payment = Payment(
        uuid.uuid4(),
        invoice.invoice_id,
        invoice.account_id,
        (latest.attempt + 1) if latest else 1,
        method,
        invoice.total,
        invoice.currency,
        clock.now(),
    )
    await uow.payments.add(payment)
    return payment


async def customer_of(
    account_id: uuid.UUID, uow_factory: UowFactory, gateway: PaymentGateway
) -> str:
    """The account's Stripe customer, created once (the key makes a racing second call a no-op)."""
    async with uow_factory() as uow:
        profile = await profile_of(account_id, uow)
        await uow.commit()
    if profile.stripe_customer_id:
        return profile.stripe_customer_id
    customer_id = await gateway.ensure_customer(
        account_id, profile.email, profile.name, f"igny8-customer-{account_id}"
    )
    async with uow_factory() as uow:
        current = await uow.invoices.profile(account_id, lock=True)
        assert current is not None
        if current.stripe_customer_id is None:
            await uow.invoices.save_profile(replace(current, stripe_customer_id=customer_id))
        await uow.commit()
    return customer_id


async def pay_invoice(
    invoice_id: uuid.UUID,
    account_id: uuid.UUID,
    method: PaymentMethod,
    uow_factory: UowFactory,
    gateway: PaymentGateway,
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
) -> Payment:
    async with uow_factory() as uow:
        invoice = await uow.invoices.get(invoice_id, account_id, lock=True)
        if invoice is None:
            raise UnknownInvoice(f"no invoice {invoice_id}")
        payment = await start_attempt(invoice, method, uow, clock)
        await uow.commit()
    return await send_attempt(
        payment, invoice, uow_factory, gateway, clock, policy, payments_policy
    )


async def send_attempt(
    payment: Payment,
    invoice: Invoice,
    uow_factory: UowFactory,
    gateway: PaymentGateway,
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
) -> Payment:
    """Call the provider for a stored attempt (again, after a crash: same idempotency key)."""
    if payment.status is not PaymentStatus.PENDING:
        return payment  # the provider answered before: its URL or client secret is stored
    if payment.amount == 0:  # nothing to collect (a free plan, credits given by hand)
        async with uow_factory() as uow:
            await payment_succeeded(payment.payment_id, None, None, uow, clock, policy)
            await uow.commit()
        return await _reload(payment.payment_id, uow_factory)
    customer_id = await customer_of(invoice.account_id, uow_factory, gateway)
    if payment.method is PaymentMethod.CHECKOUT:
        session = await gateway.checkout(
            payment, invoice, customer_id, payments_policy.success_url, payments_policy.cancel_url
        )
        async with uow_factory() as uow:
            current = await uow.payments.get(payment.payment_id, lock=True)
            assert current is not None
            if current.status is PaymentStatus.PENDING:
                current.status = PaymentStatus.PROCESSING
                current.provider_session_id = session.session_id
                current.checkout_url = session.url
                await uow.payments.save(current, clock.now())
            await uow.commit()
        return current
    async with uow_factory() as uow:
        profile = await profile_of(invoice.account_id, uow)
    try:
        result = await gateway.charge(payment, invoice, customer_id, profile.default_payment_method)
    except PaymentFailed as declined:
        async with uow_factory() as uow:
            await payment_failed(payment.payment_id, declined.detail, uow, clock, payments_policy)
            await uow.commit()
        return await _reload(payment.payment_id, uow_factory)
    async with uow_factory() as uow:
        current = await uow.payments.get(payment.payment_id, lock=True)
        assert current is not None
        if current.status is PaymentStatus.PENDING:
            current.status = PaymentStatus.PROCESSING
            current.provider_intent_id = result.intent_id
            current.client_secret = result.client_secret
            await uow.payments.save(current, clock.now())
        await uow.commit()
    if result.status == "succeeded":  # confirmed at once; the webhook that follows is a no-op
        async with uow_factory() as uow:
            await payment_succeeded(payment.payment_id, result.intent_id, None, uow, clock, policy)
            await uow.commit()
    return await _reload(payment.payment_id, uow_factory)


async def _reload(payment_id: uuid.UUID, uow_factory: UowFactory) -> Payment:
    async with uow_factory() as uow:
        payment = await uow.payments.get(payment_id)
    assert payment is not None
    return payment


async def refund_invoice(
    invoice_id: uuid.UUID,
    account_id: uuid.UUID,
    amount: int | None,
    uow_factory: UowFactory,
    gateway: PaymentGateway,
) -> str:
    """Ask the provider to refund the invoice's payment; the `charge.refunded` webhook then
    records the credit note (one path for refunds made here and in Stripe's dashboard)."""
    async with uow_factory() as uow:
        invoice = await uow.invoices.get(invoice_id, account_id)
        if invoice is None:
            raise UnknownInvoice(f"no invoice {invoice_id}")
        payment = await uow.payments.latest(invoice_id)
    if payment is None or not payment.settled or payment.provider_intent_id is None:
        raise InvoiceStateError("the invoice has no settled payment to refund")
    remaining = payment.amount - payment.refunded_amount
    if amount is not None and not 0 < amount <= remaining:
        raise InvalidCommand(f"a refund lies between 1 and {remaining}")
    key = f"igny8-refund-{payment.payment_id}-{payment.refunded_amount}-{amount or remaining}"
    return await gateway.refund(payment.provider_intent_id, amount, key)
