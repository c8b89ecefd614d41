"""Invoices, credit-note arithmetic, subscription periods and dunning, payment outcomes (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from billing.domain.errors import InvalidCommand, InvoiceStateError
from billing.domain.invoicing import (
    BillingDetails,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    credits_for_refund,
    document_number,
    tax_of,
)
from billing.domain.payments import Payment, PaymentMethod, PaymentStatus
from billing.domain.subscriptions import (
    Dunning,
    Interval,
    Subscription,
    SubscriptionStatus,
    add_interval,
)

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def invoice(*lines: InvoiceLine) -> Invoice:
    return Invoice(uuid.uuid4(), uuid.uuid4(), InvoiceKind.CUSTOM, "EUR", list(lines), NOW)


def test_tax_is_per_line_in_integers_rounded_half_up():
    assert tax_of(4900, 1900) == 931
    assert tax_of(5, 1000) == 1  # 0.5 rounds up
    assert tax_of(4, 1000) == 0
    inv = invoice(InvoiceLine("a", 3, 333, 1900, 10), InvoiceLine("b", 1, 1, 700))
    assert (inv.subtotal, inv.tax, inv.total, inv.credits) == (1000, 190, 1190, 10)
    assert inv.currency == "eur"


def test_bad_lines_and_invoices_are_refused():
    with pytest.raises(InvalidCommand):
        InvoiceLine("x", 0, 100, 0)
    with pytest.raises(InvalidCommand):
        InvoiceLine("x", 1, 100, 10_001)
    with pytest.raises(InvalidCommand):
        invoice()


def test_life_cycle_paid_is_never_voided():
    inv = invoice(InvoiceLine("a", 1, 100, 0))
    with pytest.raises(InvoiceStateError):
        inv.require_payable()  # a draft is not payable
    inv.finalize("ACME-2026-000001", BillingDetails("Acme"), NOW)
    with pytest.raises(InvoiceStateError):
        inv.finalize("ACME-2026-000002", BillingDetails(), NOW)
    assert inv.mark_paid(NOW) is True
    assert inv.mark_paid(NOW) is False
    with pytest.raises(InvoiceStateError):
        inv.void(NOW)


def test_numbers_read_like_acme_2026_000123():
    assert document_number("ACME", "invoice", 2026, 123) == "ACME-2026-000123"
    assert document_number("ACME", "credit_note", 2026, 4) == "ACME-CN-2026-000004"


def test_refunds_take_back_credits_in_proportion_and_never_twice():
    assert credits_for_refund(1000, 4900, 2450, 0) == 500
    assert credits_for_refund(1000, 4900, 4900, 500) == 500
    assert credits_for_refund(1000, 4900, 4900, 1000) == 0
    assert credits_for_refund(1000, 3, 1, 0) == 333  # rounded down, never more than bought


def test_months_keep_their_anchor_and_clamp_to_the_month_end():
    assert add_interval(NOW, Interval.MONTH) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert add_interval(datetime(2024, 1, 31, tzinfo=UTC), Interval.MONTH).day == 29
    assert add_interval(NOW, Interval.YEAR) == datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    assert add_interval(datetime(2026, 12, 15, tzinfo=UTC), Interval.MONTH).month == 1


def subscription() -> Subscription:
    return Subscription(
        uuid.uuid4(), uuid.uuid4(), "pro", SubscriptionStatus.ACTIVE, NOW,
        add_interval(NOW, Interval.MONTH), NOW,
    )  # fmt: skip


def test_a_period_missed_while_down_is_caught_up_once():
    sub = subscription()
    later = NOW + timedelta(days=100)
    assert sub.renewal_due(later)
    assert sub.advance(later, Interval.MONTH)
    assert sub.period_start <= later < sub.period_end
    assert not sub.renewal_due(later)


def test_plan_change_waits_for_the_next_period_and_cancel_ends_it():
    sub = subscription()
    sub.change_plan("agency")
    assert sub.plan_code == "pro"
    sub.advance(sub.period_end, Interval.MONTH)
    assert (sub.plan_code, sub.next_plan_code) == ("agency", None)
    sub.cancel_at_end()
    assert not sub.advance(sub.period_end, Interval.MONTH)
    assert sub.status is SubscriptionStatus.CANCELLED


def test_dunning_retries_then_past_due_then_lapses():
    dunning = Dunning()
    sub = subscription()
    at = NOW
    for wait in dunning.retry_after:
        assert sub.charge_failed(at, dunning) is False
        assert sub.next_retry_at == at + wait
        at = sub.next_retry_at
        assert sub.retry_due(at)
    assert sub.charge_failed(at, dunning) is True
    assert sub.status is SubscriptionStatus.PAST_DUE and sub.next_retry_at is None
    assert not sub.lapse_due(at + timedelta(days=6), dunning)
    assert sub.lapse_due(at + dunning.cancel_after, dunning)


def test_a_payment_success_is_never_overturned_by_a_late_failure():
    payment = Payment(
        uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 1, PaymentMethod.CHECKOUT, 4900, "eur", NOW
    )
    assert payment.succeed("pi_1") is True
    assert payment.succeed("pi_1") is False
    assert payment.fail("declined") is False
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.refund(2000) == 2000
    assert payment.refund(2000) == 0  # the same cumulative total again changes nothing
    assert payment.refund(4900) == 2900
    assert payment.status is PaymentStatus.REFUNDED
    assert payment.idempotency_key.endswith("-attempt-1")
