"""Typed domain failures. One table in the entrypoints maps each to an HTTP status or a reply."""

from __future__ import annotations


class BillingError(Exception):
    reason: str = "invalid"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(detail or self.reason)


class InvalidCommand(BillingError):
    reason = "invalid"


class UnknownAccount(BillingError):
    reason = "unknown_account"


class UnknownOperation(BillingError):
    reason = "unknown_operation"


class InsufficientCredits(BillingError):
    reason = "insufficient_credits"

    def __init__(self, required: int, available: int) -> None:
        self.required = required
        self.available = available
        super().__init__(f"{required} credits required, {available} available")


class Conflict(BillingError):
    """The same id was used before with different parameters."""

    reason = "conflict"


class UnknownReservation(BillingError):
    reason = "unknown_reservation"


class ReleasedFirst(BillingError):
    """The reservation's release arrived before the reserve: nothing may be held for it."""

    reason = "released"


class HoldExceeded(BillingError):
    reason = "hold_exceeded"


class ReservationEnded(BillingError):
    reason = "reservation_ended"


class UnknownInvoice(BillingError):
    """No such invoice, plan, package or subscription for this account (answered as 404)."""

    reason = "resource_missing"


class InvoiceStateError(BillingError):
    """The invoice or subscription is not in a state that allows this (paid → void, …)."""

    reason = "invalid_state"


class PaymentFailed(BillingError):
    """The payment provider refused or could not be reached."""

    reason = "payment_failed"


class InvalidSignature(BillingError):
    """A webhook whose signature does not verify (forged, stale or for another endpoint)."""

    reason = "invalid_signature"


class PaymentProviderUnavailable(BillingError):
    """The provider could not be reached or refused our credentials: try again later (the
    stored attempt is sent again under the same idempotency key)."""

    reason = "provider_unavailable"


class PaymentNotYetKnown(BillingError):
    """A provider event about a payment we cannot match yet (its success not seen so far): it is
    refused, not recorded, so the provider delivers it again later."""

    reason = "not_yet_known"
