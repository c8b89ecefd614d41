"""Which events notify whom, how a webhook is signed, and when a failed delivery is retried."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

WEBHOOK_EVENTS = frozenset(
    {
        "run.completed",
        "run.failed",
        "run.paused",
        "publication.completed",
        "publication.failed",
        "balance.low",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
        "invoice.voided",
        "payment.failed",
    }
)
SIGNATURE_HEADER = "IGNY8-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe's scheme): the receiver
    recomputes it and refuses old timestamps, so a captured delivery cannot be replayed later."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def backoff_s(attempts: int, base_s: float, cap_s: float = 3600.0) -> float:
    """Exponential: base, 2·base, 4·base, … capped."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def email_for(event_type: str, data: dict[str, Any]) -> tuple[str, str] | None:
    """(subject, text) for the events a person must see, else None."""
    if event_type == "balance.low":
        available = data.get("available", "?")
        return (
            "Your IGNY8 credit balance is low",
            f"Your account has {available} credits left. Buy credits or change plan so runs "
            "keep going.",
        )
    if event_type == "payment.failed":
        return (
            "A payment failed",
            "We could not take a payment for your IGNY8 account. Please update your payment "
            "method.",
        )
    if event_type == "run.paused" and "credit" in str(data.get("reason") or "").lower():
        return (
            "A run paused: not enough credits",
            f"Run {data.get('run_id')} paused because the account ran out of credits. It "
            "resumes when you add credits and resume it.",
        )
    return None
