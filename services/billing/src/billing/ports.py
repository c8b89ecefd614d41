"""Ports of the billing service: what the use cases need from the outside world."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from billing.domain.invoicing import BillingDetails, CreditNote, Invoice
from billing.domain.model import AccountLedger, Grant, Reservation
from billing.domain.payments import Payment
from billing.domain.pricing import Price, PriceList
from billing.domain.subscriptions import CreditPackage, Dunning, Plan, Subscription
from igny8.uow import UnitOfWork as BaseUnitOfWork


@dataclass(frozen=True)
class StoredOutcome:
    """The reply a command produced, kept so a retry gets the very same payload again."""

    topic: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Capture:
    commit_id: uuid.UUID
    reservation_id: uuid.UUID
    account_id: uuid.UUID
    request_hash: str
    outcome: StoredOutcome


@dataclass(frozen=True)
class UsageRecord:
    account_id: uuid.UUID
    reservation_id: uuid.UUID
    commit_id: uuid.UUID
    operation: str
    quantity: int
    credits: int
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    provider_cost_usd: str | None
    run_id: uuid.UUID | None
    stage: int | None
    item_id: str | None
    created_at: datetime


class LedgerRepository(Protocol):
    async def open_account(self, account_id: uuid.UUID, low_balance_threshold: int | None) -> bool:
        """Create the account if missing; True when it was created."""

    async def load(self, account_id: uuid.UUID, now: datetime) -> AccountLedger | None:
        """The account (row-locked until the transaction ends) with its live grants."""

    async def save(self, ledger: AccountLedger) -> None:
        """Persist the account, touched grants and the ledger's new movements (append-only)."""

    async def set_threshold(self, account_id: uuid.UUID, threshold: int | None) -> bool: ...

    async def grant_for_key(
        self, account_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Grant, str] | None:
        """A grant made earlier under this idempotency key, with its request hash."""

    async def remember_grant_key(
        self, account_id: uuid.UUID, grant_id: uuid.UUID, idempotency_key: str, request_hash: str
    ) -> None: ...

    async def accounts_with_lapsed_grants(self, now: datetime, limit: int) -> list[uuid.UUID]: ...


class ReservationRepository(Protocol):
    async def get(self, reservation_id: uuid.UUID) -> tuple[Reservation, StoredOutcome] | None: ...

    async def add(self, reservation: Reservation, outcome: StoredOutcome) -> None: ...

    async def save(
        self, reservation: Reservation, end_outcome: StoredOutcome | None = None
    ) -> None: ...

    async def end_outcome(self, reservation_id: uuid.UUID) -> StoredOutcome | None: ...

    async def due_for_expiry(self, now: datetime, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(account_id, reservation_id) of active reservations past their TTL."""

    async def get_capture(self, commit_id: uuid.UUID) -> Capture | None: ...

    async def add_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> None:
        """Remember a release of a reservation not (yet) made (idempotent)."""

    async def has_tombstone(self, account_id: uuid.UUID, reservation_id: uuid.UUID) -> bool: ...

    async def add_capture(self, capture: Capture) -> None: ...


class PriceRepository(Protocol):
    async def prices_at(self, when: datetime) -> PriceList: ...

    async def add_version(self, prices: list[Price], effective_at: datetime) -> None: ...


class UsageRepository(Protocol):
    async def add(self, record: UsageRecord) -> None: ...


class UnitOfWork(BaseUnitOfWork, Protocol):
    """One transaction over billing's repositories (`igny8.uow`: commit, rollback, emit)."""

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    @property
    def prices(self) -> PriceRepository: ...

    @property
    def usage(self) -> UsageRepository: ...


class LedgerBatchUnitOfWork(UnitOfWork, Protocol):
    """One transaction for a batch of ledger commands. `load_batch` reads up front everything
    the commands refer to (each account locked once, in `account_id` order, so concurrent batches
    cannot deadlock); the use cases then run against that state in memory, and `flush` writes
    what they changed with one multi-row statement per table."""

    async def load_batch(
        self,
        accounts: Sequence[uuid.UUID],
        reservations: Sequence[uuid.UUID],
        commits: Sequence[uuid.UUID],
    ) -> None: ...

    def answering(self, causation_id: str | None, correlation_id: str | None) -> None:
        """The messages emitted from now on answer this command (envelope context)."""

    def checkpoint(self, account_id: uuid.UUID) -> object:
        """A mark to `discard` back to when the next command (on this account) fails."""

    def discard(self, mark: object) -> None:
        """Forget the failed command's emitted messages; raises if it changed any state (a use
        case raises a typed failure only before it changes anything)."""

    async def flush(self) -> None:
        """Write every change and queued message of the batch (never commits)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Policy:
    """Platform-wide billing settings the use cases need."""

    low_balance_threshold: int = 100


# -- invoicing and payments ------------------------------------------------------------------


@dataclass(frozen=True)
class BillingProfile:
    """An account's invoicing details: number prefix, tax rate, who is billed, Stripe ids."""

    account_id: uuid.UUID
    number_prefix: str
    tax_rate_bp: int = 0
    name: str = ""
    email: str = ""
    address: str = ""
    stripe_customer_id: str | None = None
    default_payment_method: str | None = None

    @property
    def details(self) -> BillingDetails:
        return BillingDetails(self.name, self.email, self.address)


class CatalogueRepository(Protocol):
    async def latest_plan(self, code: str) -> Plan | None: ...

    async def plan(self, plan_id: uuid.UUID) -> Plan | None: ...

    async def plans(self) -> list[Plan]:
        """The latest version of every plan."""

    async def add_plan(self, plan: Plan) -> None: ...

    async def latest_package(self, code: str) -> CreditPackage | None: ...

    async def packages(self) -> list[CreditPackage]: ...

    async def add_package(self, package: CreditPackage) -> None: ...


class InvoiceRepository(Protocol):
    async def profile(self, account_id: uuid.UUID, lock: bool = False) -> BillingProfile | None: ...

    async def ensure_profile(
        self, account_id: uuid.UUID, default_prefix: str
    ) -> BillingProfile | None:
        """The profile, created with defaults if missing; None when the account does not exist."""

    async def save_profile(self, profile: BillingProfile) -> None: ...

    async def add(self, invoice: Invoice) -> None: ...

    async def get(
        self, invoice_id: uuid.UUID, account_id: uuid.UUID | None = None, lock: bool = False
    ) -> Invoice | None:
        """With `account_id`, only that account's invoice (another account's is missing)."""

    async def save(self, invoice: Invoice) -> None:
        """Persist status, number, billing details and timestamps (lines never change)."""

    async def by_request_key(self, account_id: uuid.UUID, request_key: str) -> Invoice | None: ...

    async def for_period(
        self, subscription_id: uuid.UUID, period_start: datetime
    ) -> Invoice | None: ...

    async def next_number(self, account_id: uuid.UUID, series: str, year: int) -> int:
        """Increment the (account, series, year) counter row in this transaction: a rollback
        gives the number back, so numbers have no gaps."""

    async def add_credit_note(self, note: CreditNote) -> None: ...

    async def credit_notes(self, invoice_id: uuid.UUID) -> list[CreditNote]: ...

    async def credit_note_for_refund(self, refund_reference: str) -> CreditNote | None: ...

    async def store_document(
        self, document_id: uuid.UUID, account_id: uuid.UUID, kind: str, content: bytes
    ) -> None:
        """Once per document (a second store is ignored); kept with its SHA-256."""

    async def has_document(self, document_id: uuid.UUID) -> bool: ...


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None: ...

    async def get(self, payment_id: uuid.UUID, lock: bool = False) -> Payment | None: ...

    async def by_intent(self, intent_id: str, lock: bool = False) -> Payment | None: ...

    async def latest(self, invoice_id: uuid.UUID) -> Payment | None: ...

    async def save(self, payment: Payment, now: datetime) -> None: ...

    async def stale_pending(self, before: datetime, limit: int) -> list[uuid.UUID]:
        """Attempts recorded but never answered by the provider (a crash between the two)."""

    async def first_delivery(self, event_id: str, event_type: str, now: datetime) -> bool:
        """Record a provider event id; False when it was seen before (a redelivery)."""


class SubscriptionRepository(Protocol):
    async def live_for_account(
        self, account_id: uuid.UUID, lock: bool = False
    ) -> Subscription | None: ...

    async def get(self, subscription_id: uuid.UUID, lock: bool = False) -> Subscription | None: ...

    async def add(self, subscription: Subscription) -> None: ...

    async def save(self, subscription: Subscription) -> None: ...

    async def needing_attention(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Subscriptions whose period ended, whose retry is due, or whose grace has lapsed."""


class InvoicingUnitOfWork(UnitOfWork, Protocol):
    @property
    def catalogue(self) -> CatalogueRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...


@dataclass(frozen=True)
class CheckoutSession:
    session_id: str
    url: str


@dataclass(frozen=True)
class ChargeResult:
    intent_id: str
    status: str
    """The provider's status (`succeeded`, `processing`, `requires_action`, …)."""
    client_secret: str | None = None


@dataclass(frozen=True)
class ProviderEvent:
    event_id: str
    type: str
    object: dict[str, Any]


class PaymentGateway(Protocol):
    """The payment provider (Stripe). Every call that creates something takes an idempotency
    key the caller stored before calling."""

    async def ensure_customer(
        self, account_id: uuid.UUID, email: str, name: str, idempotency_key: str
    ) -> str: ...

    async def checkout(
        self,
        payment: Payment,
        invoice: Invoice,
        customer_id: str,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession: ...

    async def charge(
        self, payment: Payment, invoice: Invoice, customer_id: str, payment_method: str | None
    ) -> ChargeResult:
        """A PaymentIntent; with a saved method it is confirmed off-session at once.
        A card declined raises `PaymentFailed`."""

    async def refund(self, intent_id: str, amount: int | None, idempotency_key: str) -> str: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> ProviderEvent:
        """Check the signature on the raw body before anything is read; `InvalidSignature`."""


class DocumentRenderer(Protocol):
    def invoice_pdf(self, invoice: Invoice) -> bytes: ...

    def credit_note_pdf(self, note: CreditNote, invoice: Invoice) -> bytes: ...


@dataclass(frozen=True)
class PaymentsPolicy:
    dunning: Dunning = field(default_factory=Dunning)
    success_url: str = "http://127.0.0.1:8100/console/invoices?paid=1"
    cancel_url: str = "http://127.0.0.1:8100/console/invoices?cancelled=1"
