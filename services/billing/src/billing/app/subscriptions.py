"""Subscriptions: start, change plan (next period), cancel at period end, and the renewal job.

Each period start issues the plan's invoice (once: the database refuses a second invoice for the
same subscription period); once paid, a `plan` grant replaces the previous period's. Renewals
charge the saved payment method off-session; failures walk the dunning schedule.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from billing.app.invoices import UowFactory, finalize, profile_of
from billing.app.pay_invoice import send_attempt, start_attempt
from billing.app.payments import payment_failed
from billing.domain.errors import BillingError, InvoiceStateError, UnknownInvoice
from billing.domain.invoicing import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from billing.domain.payments import Payment, PaymentMethod
from billing.domain.subscriptions import Plan, Subscription, SubscriptionStatus, add_interval
from billing.ports import Clock, InvoicingUnitOfWork, PaymentGateway, PaymentsPolicy, Policy


async def _plan(code: str, uow: InvoicingUnitOfWork, renewing: bool = False) -> Plan:
    """The plan's latest version; a withdrawn plan is refused to newcomers but still renews for
    the subscribers who have it."""
    plan = await uow.catalogue.latest_plan(code)
    if plan is None or (not plan.active and not renewing):
        raise UnknownInvoice(f"no plan {code!r}")
    return plan


async def issue_period_invoice(
    subscription: Subscription, plan: Plan, uow: InvoicingUnitOfWork, now: datetime
) -> Invoice:
    """The finalized invoice of the subscription's current period (the existing one if issued)."""
    existing = await uow.invoices.for_period(
        subscription.subscription_id, subscription.period_start
    )
    if existing is not None:
        return existing
    profile = await profile_of(subscription.account_id, uow)
    line = InvoiceLine(
        f"{plan.name} plan, {subscription.period_start:%Y-%m-%d} to "
        f"{subscription.period_end:%Y-%m-%d}: {plan.credits:,} credits",
        1,
        plan.price,
        profile.tax_rate_bp,
        plan.credits,
    )
    invoice = Invoice(
        uuid.uuid4(),
        subscription.account_id,
        InvoiceKind.SUBSCRIPTION,
        plan.currency,
        [line],
        now,
        plan_id=plan.plan_id,
        subscription_id=subscription.subscription_id,
        period_start=subscription.period_start,
        period_end=subscription.period_end,
    )
    await uow.invoices.add(invoice)
    return await finalize(invoice, uow, now)


async def start_subscription(
    account_id: uuid.UUID, plan_code: str, uow: InvoicingUnitOfWork, now: datetime
) -> tuple[Subscription, Invoice]:
    """The first period starts now; its invoice is paid like any other (checkout or saved card)."""
    await profile_of(account_id, uow)
    plan = await _plan(plan_code, uow)
    if await uow.subscriptions.live_for_account(account_id, lock=True) is not None:
        raise InvoiceStateError("the account already has a subscription; change its plan instead")
    subscription = Subscription(
        uuid.uuid4(),
        account_id,
        plan.code,
        SubscriptionStatus.ACTIVE,
        now,
        add_interval(now, plan.interval),
        now,
    )
    await uow.subscriptions.add(subscription)
    return subscription, await issue_period_invoice(subscription, plan, uow, now)


async def _live(account_id: uuid.UUID, uow: InvoicingUnitOfWork) -> Subscription:
    subscription = await uow.subscriptions.live_for_account(account_id, lock=True)
    if subscription is None:
        raise UnknownInvoice("the account has no subscription")
    return subscription


async def change_plan(
    account_id: uuid.UUID, plan_code: str, uow: InvoicingUnitOfWork
) -> Subscription:
    subscription = await _live(account_id, uow)
    await _plan(plan_code, uow)
    subscription.change_plan(plan_code)
    await uow.subscriptions.save(subscription)
    return subscription


async def cancel_subscription(account_id: uuid.UUID, uow: InvoicingUnitOfWork) -> Subscription:
    subscription = await _live(account_id, uow)
    subscription.cancel_at_end()
    await uow.subscriptions.save(subscription)
    return subscription


async def _due_attempt(
    subscription_id: uuid.UUID, uow: InvoicingUnitOfWork, clock: Clock, policy: PaymentsPolicy
) -> tuple[Payment, Invoice] | None:
    """Advance one subscription as far as `now` asks, in one transaction; the charge to send."""
    now = clock.now()
    subscription = await uow.subscriptions.get(subscription_id, lock=True)
    if subscription is None or subscription.status is SubscriptionStatus.CANCELLED:
        return None
    if subscription.lapse_due(now, policy.dunning):
        subscription.cancel(now)
        await uow.subscriptions.save(subscription)
        return None
    if subscription.renewal_due(now):
        interval = (
            await _plan(subscription.next_plan_code or subscription.plan_code, uow, renewing=True)
        ).interval
        if not subscription.advance(now, interval):
            await uow.subscriptions.save(subscription)
            return None
        await uow.subscriptions.save(subscription)
        invoice = await issue_period_invoice(
            subscription, await _plan(subscription.plan_code, uow, renewing=True), uow, now
        )
    elif subscription.retry_due(now):
        subscription.next_retry_at = None  # taken; the attempt's outcome schedules the next
        await uow.subscriptions.save(subscription)
        found = await uow.invoices.for_period(subscription_id, subscription.period_start)
        if found is None:
            return None
        invoice = found
    else:
        return None
    locked = await uow.invoices.get(invoice.invoice_id, lock=True)
    if locked is None or locked.status is not InvoiceStatus.OPEN:
        return None
    return await start_attempt(locked, PaymentMethod.PAYMENT_INTENT, uow, clock), locked


async def renew_subscriptions(
    uow_factory: UowFactory,
    gateway: PaymentGateway,
    clock: Clock,
    policy: Policy,
    payments_policy: PaymentsPolicy,
    batch: int = 100,
) -> int:
    """One pass of the renewal job: idempotent, so running it twice issues nothing twice.

    Returns how many charges were sent. Attempts stored by a pass that crashed before calling
    the provider are sent again first (same idempotency key).
    """
    now = clock.now()
    async with uow_factory() as uow:
        stale = await uow.payments.stale_pending(now - timedelta(minutes=5), batch)
        due = await uow.subscriptions.needing_attention(now, batch)
    charges: list[tuple[Payment, Invoice]] = []
    for payment_id in stale:
        async with uow_factory() as uow:
            payment = await uow.payments.get(payment_id)
            invoice = await uow.invoices.get(payment.invoice_id) if payment else None
        if payment is not None and invoice is not None:
            charges.append((payment, invoice))
    failures: list[BillingError] = []
    for subscription_id in due:
        try:
            async with uow_factory() as uow:
                attempt = await _due_attempt(subscription_id, uow, clock, payments_policy)
                await uow.commit()
        except BillingError as error:  # one broken subscription must not stall the others
            failures.append(error)
            continue
        if attempt is not None:
            charges.append(attempt)
    for payment, invoice in charges:
        async with uow_factory() as uow:
            profile = await profile_of(invoice.account_id, uow)
        if profile.default_payment_method is None and payment.amount > 0:
            # Nothing to charge off-session: a failed attempt, so dunning reminds and retries.
            async with uow_factory() as uow:
                await payment_failed(
                    payment.payment_id, "no saved payment method", uow, clock, payments_policy
                )
                await uow.commit()
            continue
        try:
            await send_attempt(
                payment, invoice, uow_factory, gateway, clock, policy, payments_policy
            )
        except BillingError as error:  # e.g. Stripe unreachable: the stored attempt is resent
            failures.append(error)
    if failures:
        raise RenewalsIncomplete(failures)
    return len(charges)


class RenewalsIncomplete(BillingError):
    """Some subscriptions or charges of a pass failed; the others were done. The next pass
    retries the failed ones."""

    reason = "renewals_incomplete"

    def __init__(self, failures: list[BillingError]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{type(f).__name__}: {f.detail}" for f in failures[:5]))
