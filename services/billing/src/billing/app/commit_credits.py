"""credit.commit → credit.committed (exactly one effect per commit_id), priced as reserved."""

from __future__ import annotations

from billing.app.commands import CommitCredits
from billing.app.settle import settle
from billing.domain.errors import Conflict, UnknownAccount, UnknownReservation
from billing.ports import Capture, Clock, Policy, StoredOutcome, UnitOfWork, UsageRecord
from igny8.contracts.credits import CreditsCommitted


async def commit_credits(
    cmd: CommitCredits, uow: UnitOfWork, clock: Clock, policy: Policy
) -> StoredOutcome:
    now = clock.now()
    ledger = await uow.ledger.load(cmd.account_id, clock.now())
    earlier = await uow.reservations.get_capture(cmd.commit_id)
    if earlier is not None:
        if (
            earlier.request_hash != cmd.fingerprint
            or earlier.reservation_id != cmd.reservation_id
            or earlier.account_id != cmd.account_id
        ):
            raise Conflict(f"commit {cmd.commit_id} was made with other parameters")
        await uow.emit(
            earlier.outcome.topic,
            CreditsCommitted.model_validate(earlier.outcome.payload),
            cmd.account_id,
        )
        return earlier.outcome
    if ledger is None:
        raise UnknownAccount(f"no billing account {cmd.account_id}")
    known = await uow.reservations.get(cmd.reservation_id)
    if known is None or known[0].account_id != cmd.account_id:
        raise UnknownReservation(f"no reservation {cmd.reservation_id} for this account")
    reservation = known[0]
    reservation.require_active()
    if cmd.operation in reservation.prices:
        price = reservation.prices[cmd.operation]
    else:  # not listed when reserving: the prices in force when the reservation was made
        price = (await uow.prices.prices_at(reservation.created_at))[cmd.operation]
    credits = price.credits_for(cmd.quantity)
    ledger.capture(reservation, credits, cmd.commit_id)
    committed = CreditsCommitted(
        reservation_id=cmd.reservation_id,
        commit_id=cmd.commit_id,
        credits=credits,
        remaining_hold=reservation.remaining,
        balance_after=ledger.account.available,
    )
    outcome = StoredOutcome("credit.committed", committed.model_dump(mode="json"))
    await uow.reservations.save(reservation)
    await uow.reservations.add_capture(
        Capture(cmd.commit_id, cmd.reservation_id, cmd.account_id, cmd.fingerprint, outcome)
    )
    usage = cmd.usage
    await uow.usage.add(
        UsageRecord(
            account_id=cmd.account_id,
            reservation_id=cmd.reservation_id,
            commit_id=cmd.commit_id,
            operation=cmd.operation,
            quantity=cmd.quantity,
            credits=credits,
            model=usage.model if usage else None,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            provider_cost_usd=usage.provider_cost_usd if usage else None,
            run_id=cmd.run_id or reservation.run_id,
            stage=cmd.stage,
            item_id=cmd.item_id,
            created_at=now,
        )
    )
    await uow.emit(outcome.topic, committed, cmd.account_id)
    await settle(ledger, uow, policy)
    return outcome
