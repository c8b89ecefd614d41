"""The catalogue (plans, credit packages) and an account's subscription with its dunning.

Catalogue entries are versioned like the cost table: an admin change adds a version under the same
`code`; invoices point at the exact version they were issued from.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from billing.domain.errors import InvalidCommand, InvoiceStateError


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"


def add_interval(start: datetime, interval: Interval, count: int = 1) -> datetime:
    """Calendar months/years; the 31st becomes the month's last day (Stripe's anchoring)."""
    months = count * (12 if interval is Interval.YEAR else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Plan:
    plan_id: uuid.UUID
    code: str
    version: int
    name: str
    interval: Interval
    price: int
    currency: str
    credits: int
    active: bool = True

    def __post_init__(self) -> None:
        _check_offer(self.code, self.price, self.currency, self.credits)


@dataclass(frozen=True)
class CreditPackage:
    package_id: uuid.UUID
    code: str
    version: int
    name: str
    price: int
    currency: str
    credits: int
    active: bool = True

    def __post_init__(self) -> None:
        _check_offer(self.code, self.price, self.currency, self.credits)


def _check_offer(code: str, price: int, currency: str, credits: int) -> None:
    if not code or not all(c.isalnum() or c in "-_" for c in code):
        raise InvalidCommand("a code is letters, digits, '-' and '_'")
    if price < 0 or credits <= 0:
        raise InvalidCommand("price must not be negative and credits must be positive")
    if len(currency) != 3 or not currency.isalpha():
        raise InvalidCommand("currency must be a three-letter ISO code")


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Dunning:
    """When failed renewal charges are retried, and how long a past-due subscription lives on."""

    retry_after: tuple[timedelta, ...] = (timedelta(days=1), timedelta(days=3), timedelta(days=5))
    cancel_after: timedelta = timedelta(days=7)


@dataclass
class Subscription:
    subscription_id: uuid.UUID
    account_id: uuid.UUID
    plan_code: str
    status: SubscriptionStatus
    period_start: datetime
    period_end: datetime
    created_at: datetime
    next_plan_code: str | None = None
    cancel_at_period_end: bool = False
    failed_attempts: int = 0
    next_retry_at: datetime | None = None
    past_due_since: datetime | None = None
    cancelled_at: datetime | None = None

    def require_live(self) -> None:
        if self.status is SubscriptionStatus.CANCELLED:
            raise InvoiceStateError("the subscription is cancelled")

    def change_plan(self, code: str) -> None:
        """Takes effect at the next period start; the current period keeps its plan."""
        self.require_live()
        self.next_plan_code = None if code == self.plan_code else code

    def cancel_at_end(self) -> None:
        self.require_live()
        self.cancel_at_period_end = True

    def renewal_due(self, now: datetime) -> bool:
        return self.status is not SubscriptionStatus.CANCELLED and self.period_end <= now

    def advance(self, now: datetime, interval: Interval) -> bool:
        """Move to the period that contains `now`; False when the subscription ends instead.

        Periods missed entirely while billing was down are skipped, not invoiced one by one: their
        plan credits could no longer be used, so only the current period is invoiced (once).
        """
        if self.cancel_at_period_end:
            self.cancel(self.period_end)
            return False
        if self.next_plan_code:
            self.plan_code, self.next_plan_code = self.next_plan_code, None
        start = self.period_end
        end = add_interval(start, interval)
        while end <= now:
            start, end = end, add_interval(end, interval)
        self.period_start, self.period_end = start, end
        self.failed_attempts = 0
        self.next_retry_at = None
        return True

    def charge_failed(self, now: datetime, dunning: Dunning) -> bool:
        """Schedule the next retry; True when the schedule is exhausted (→ past due)."""
        self.failed_attempts += 1
        if self.failed_attempts <= len(dunning.retry_after):
            self.next_retry_at = now + dunning.retry_after[self.failed_attempts - 1]
            return False
        self.next_retry_at = None
        if self.status is SubscriptionStatus.ACTIVE:
            self.status = SubscriptionStatus.PAST_DUE
            self.past_due_since = now
        return True

    def retry_due(self, now: datetime) -> bool:
        return (
            self.status is SubscriptionStatus.ACTIVE
            and self.next_retry_at is not None
            and self.next_retry_at <= now
        )

    def charge_succeeded(self) -> None:
        self.failed_attempts = 0
        self.next_retry_at = None
        if self.status is SubscriptionStatus.PAST_DUE:
            self.status = SubscriptionStatus.ACTIVE
            self.past_due_since = None

    def lapse_due(self, now: datetime, dunning: Dunning) -> bool:
        return (
            self.status is SubscriptionStatus.PAST_DUE
            and self.past_due_since is not None
            and self.past_due_since + dunning.cancel_after <= now
        )

    def cancel(self, now: datetime) -> None:
        self.status = SubscriptionStatus.CANCELLED
        self.cancelled_at = now
        self.next_retry_at = None
