"""credit.reserve → credit.reserved | credit.rejected (exactly one effect per reservation_id)."""

from __future__ import annotations

from datetime import timedelta

from billing.app.commands import ReserveCredits
from billing.app.settle import settle
from billing.domain.errors import (
    BillingError,
    Conflict,
    InsufficientCredits,
    ReleasedFirst,
    UnknownAccount,
)
from billing.domain.model import Reservation, ReservationStatus
from billing.ports import Clock, Policy, StoredOutcome, UnitOfWork
from igny8.contracts.credits import CreditsRejected, CreditsReserved
from igny8.contracts.credits import Price as WirePrice


async def reserve_credits(
    cmd: ReserveCredits, uow: UnitOfWork, clock: Clock, policy: Policy
) -> StoredOutcome:
    now = clock.now()
    ledger = await uow.ledger.load(
        cmd.account_id, clock.now()
    )  # locks the account: one command at a time
    known = await uow.reservations.get(cmd.reservation_id)
    if known is not None:
        reservation, outcome = known
        if reservation.account_id != cmd.account_id or reservation.request_hash != cmd.fingerprint:
            raise Conflict(f"reservation {cmd.reservation_id} was made with other parameters")
        await uow.emit(outcome.topic, replay(outcome), cmd.account_id)
        return outcome

    reservation = Reservation(
        reservation_id=cmd.reservation_id,
        account_id=cmd.account_id,
        status=ReservationStatus.ACTIVE,
        credits=0,
        expires_at=now + timedelta(seconds=cmd.ttl_seconds),
        request_hash=cmd.fingerprint,
        prices={},
        created_at=now,
        run_id=cmd.run_id,
    )
    reply: CreditsReserved | CreditsRejected
    try:
        if ledger is None:
            raise UnknownAccount(f"no billing account {cmd.account_id}")
        if await uow.reservations.has_tombstone(cmd.account_id, cmd.reservation_id):
            raise ReleasedFirst(f"reservation {cmd.reservation_id} was released before it was made")
        ledger.expire_lapsed_grants()
        prices = await uow.prices.prices_at(now)
        for item in cmd.items:
            price = prices[item.operation]
            reservation.prices[item.operation] = price
            reservation.credits += price.credits_for(item.quantity)
        reservation.holds = ledger.reserve(cmd.reservation_id, reservation.credits)
        reply = CreditsReserved(
            reservation_id=cmd.reservation_id,
            credits=reservation.credits,
            expires_at=reservation.expires_at,
            available_after=ledger.account.available,
            prices={
                op: WirePrice(
                    unit=p.unit.value,
                    credits_per_unit=p.credits_per_unit,
                    minimum_credits=p.minimum_credits,
                )
                for op, p in reservation.prices.items()
            },
        )
    except BillingError as error:
        short = error if isinstance(error, InsufficientCredits) else None
        reply = CreditsRejected(
            reservation_id=cmd.reservation_id,
            reason=error.reason,
            required=short.required if short else None,
            available=short.available if short else None,
            detail=error.detail,
        )
        reservation.status = ReservationStatus.REJECTED
        reservation.ended_at = now
        reservation.holds = []
    outcome = StoredOutcome(
        "credit.reserved" if isinstance(reply, CreditsReserved) else "credit.rejected",
        reply.model_dump(mode="json"),
    )
    await uow.reservations.add(reservation, outcome)
    await uow.emit(outcome.topic, reply, cmd.account_id)
    if ledger is not None:
        await settle(ledger, uow, policy)
    return outcome


def replay(outcome: StoredOutcome) -> CreditsReserved | CreditsRejected:
    if outcome.topic == "credit.reserved":
        return CreditsReserved.model_validate(outcome.payload)
    return CreditsRejected.model_validate(outcome.payload)
