"""The one table mapping domain errors to reply reasons and HTTP statuses."""

from __future__ import annotations

from billing.domain import errors

#: error type → (credit.command_failed reason, HTTP status)
ERROR_TABLE: dict[type[errors.BillingError], tuple[str, int]] = {
    errors.Conflict: ("conflict", 409),
    errors.UnknownReservation: ("unknown_reservation", 404),
    errors.UnknownAccount: ("unknown_reservation", 404),
    errors.HoldExceeded: ("hold_exceeded", 409),
    errors.ReservationEnded: ("reservation_ended", 409),
    errors.ReleasedFirst: ("reservation_ended", 409),
    errors.InsufficientCredits: ("invalid", 402),
    errors.UnknownOperation: ("invalid", 422),
    errors.InvalidCommand: ("invalid", 422),
    errors.UnknownInvoice: ("invalid", 404),
    errors.InvoiceStateError: ("invalid", 409),
    errors.PaymentFailed: ("invalid", 402),
    errors.InvalidSignature: ("invalid", 400),
    errors.PaymentProviderUnavailable: ("invalid", 503),
    errors.PaymentNotYetKnown: ("invalid", 409),
}


def failure_reason(error: errors.BillingError) -> str:
    return ERROR_TABLE.get(type(error), ("invalid", 422))[0]


def http_status(error: errors.BillingError) -> int:
    return ERROR_TABLE.get(type(error), ("invalid", 422))[1]
