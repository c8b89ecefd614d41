"""credit.release → credit.released; the TTL sweeper ends overdue holds the same way."""

from __future__ import annotations

import uuid

from billing.app.commands import ReleaseCredits
from billing.app.settle import settle
from billing.domain.errors import UnknownAccount, UnknownReservation
from billing.domain.model import ReservationStatus
from billing.ports import Clock, Policy, StoredOutcome, UnitOfWork
from igny8.contracts.credits import CreditCommandFailed, CreditsReleased


async def release_credits(
    cmd: ReleaseCredits, uow: UnitOfWork, clock: Clock, policy: Policy
) -> StoredOutcome:
    ledger = await uow.ledger.load(cmd.account_id, clock.now())
    if ledger is None:
        raise UnknownAccount(f"no billing account {cmd.account_id}")
    known = await uow.reservations.get(cmd.reservation_id)
    if known is None:
        return await _release_first(cmd, uow)
    if known[0].account_id != cmd.account_id:
        raise UnknownReservation(f"no reservation {cmd.reservation_id} for this account")
    reservation = known[0]
    if reservation.status in (ReservationStatus.RELEASED, ReservationStatus.EXPIRED):
        # A retried release (or one racing the sweeper) gets the outcome that ended the hold.
        ended = await uow.reservations.end_outcome(cmd.reservation_id)
        assert ended is not None
        await uow.emit(ended.topic, CreditsReleased.model_validate(ended.payload), cmd.account_id)
        return ended
    reservation.require_active()
    released = ledger.release(reservation, expired=False)
    reply = CreditsReleased(
        reservation_id=cmd.reservation_id, released_credits=released, reason="released"
    )
    outcome = StoredOutcome("credit.released", reply.model_dump(mode="json"))
    await uow.reservations.save(reservation, outcome)
    await uow.emit(outcome.topic, reply, cmd.account_id)
    await settle(ledger, uow, policy)
    return outcome


async def _release_first(cmd: ReleaseCredits, uow: UnitOfWork) -> StoredOutcome:
    """The release overtook its reserve (another topic): remember it, so the reserve that
    follows is refused `released`, and answer `unknown_reservation` as before. Answered here,
    not raised, because a raised failure rolls the tombstone back with the command."""
    await uow.reservations.add_tombstone(cmd.account_id, cmd.reservation_id)
    failed = CreditCommandFailed(
        command_type="credit.release",
        reservation_id=cmd.reservation_id,
        reason="unknown_reservation",
        detail=f"no reservation {cmd.reservation_id} yet; a reserve that follows is refused",
    )
    outcome = StoredOutcome("credit.command_failed", failed.model_dump(mode="json"))
    await uow.emit(outcome.topic, failed, cmd.account_id)
    return outcome


async def expire_reservation(
    account_id: uuid.UUID, reservation_id: uuid.UUID, uow: UnitOfWork, clock: Clock, policy: Policy
) -> bool:
    """End one overdue hold (sweeper). False when it ended otherwise in the meantime."""
    now = clock.now()
    ledger = await uow.ledger.load(account_id, clock.now())
    known = await uow.reservations.get(reservation_id)
    if ledger is None or known is None:
        return False
    reservation = known[0]
    if reservation.status.ended or reservation.expires_at > now:
        return False
    released = ledger.release(reservation, expired=True)
    reply = CreditsReleased(
        reservation_id=reservation_id, released_credits=released, reason="expired"
    )
    outcome = StoredOutcome("credit.released", reply.model_dump(mode="json"))
    await uow.reservations.save(reservation, outcome)
    await uow.emit(outcome.topic, reply, account_id)
    await settle(ledger, uow, policy)
    return True
