"""Kafka entrypoint: credit.reserve / credit.commit / credit.release → use cases → replies.

Each command is applied inside the consumer's transaction (which also claims the inbox row), in a
savepoint, so a typed failure leaves no trace but its `credit.command_failed` reply.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import commands
from billing.app.commit_credits import commit_credits
from billing.app.release_credits import release_credits
from billing.app.reserve_credits import reserve_credits
from billing.domain.errors import BillingError
from billing.entrypoints.errors import failure_reason
from billing.ports import Clock, Policy
from igny8.contracts import Envelope, InvalidPayload
from igny8.contracts import credits as wire
from igny8.db import MessageContext
from igny8.messaging import DeadLetter, Subscription

COMMAND_TOPICS = ("credit.reserve", "credit.commit", "credit.release")


def translate(envelope: Envelope, payload: BaseModel) -> Any:
    account_id = envelope.account_id
    assert account_id is not None
    if isinstance(payload, wire.ReserveCredits):
        return commands.ReserveCredits(
            account_id=account_id,
            reservation_id=payload.reservation_id,
            items=tuple(commands.Item(i.operation, i.quantity) for i in payload.items),
            ttl_seconds=payload.ttl_seconds,
            run_id=payload.run_id,
        )
    if isinstance(payload, wire.CommitCredits):
        usage = payload.usage
        ref = payload.ref
        return commands.CommitCredits(
            account_id=account_id,
            reservation_id=payload.reservation_id,
            commit_id=payload.commit_id,
            operation=payload.operation,
            quantity=payload.quantity,
            usage=commands.Usage(
                usage.model, usage.input_tokens, usage.output_tokens, str(usage.provider_cost_usd)
            )
            if usage
            else None,
            run_id=ref.run_id if ref else None,
            stage=ref.stage if ref else None,
            item_id=ref.item_id if ref else None,
        )
    if isinstance(payload, wire.ReleaseCredits):
        return commands.ReleaseCredits(account_id, payload.reservation_id)
    raise DeadLetter(f"billing does not handle {envelope.type}")


USE_CASES: dict[str, Callable[[Any, BillingUnitOfWork, Clock, Policy], Awaitable[object]]] = {
    "credit.reserve": reserve_credits,
    "credit.commit": commit_credits,
    "credit.release": release_credits,
}


def command_subscription(clock: Clock, policy: Policy) -> Subscription:
    def unit_of_work(envelope: Envelope, session: AsyncSession) -> BillingUnitOfWork:
        context = MessageContext(str(envelope.id), envelope.correlation_id)
        return BillingUnitOfWork(session=session, context=context)

    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        if envelope.account_id is None:
            raise DeadLetter("a credit command needs the envelope's account_id")
        cmd = translate(envelope, payload)
        uow = unit_of_work(envelope, session)
        try:
            async with session.begin_nested():
                await USE_CASES[envelope.type](cmd, uow, clock, policy)
        except BillingError as error:
            await uow.emit(
                "credit.command_failed",
                wire.CreditCommandFailed(
                    command_type=envelope.type,
                    reservation_id=getattr(cmd, "reservation_id", None),
                    commit_id=getattr(cmd, "commit_id", None),
                    reason=failure_reason(error),
                    detail=error.detail,
                ),
                envelope.account_id,
            )

    async def reject_invalid(
        envelope: Envelope, error: InvalidPayload, session: AsyncSession
    ) -> None:
        if envelope.account_id is None:
            raise DeadLetter(f"invalid command without account_id: {error}")
        uow = unit_of_work(envelope, session)
        reservation_id = _uuid(envelope.data.get("reservation_id"))
        if envelope.type == "credit.reserve":
            await uow.emit(
                "credit.rejected",
                wire.CreditsRejected(
                    reservation_id=reservation_id, reason="invalid", detail=str(error)
                ),
                envelope.account_id,
            )
            return
        await uow.emit(
            "credit.command_failed",
            wire.CreditCommandFailed(
                command_type=envelope.type,
                reservation_id=reservation_id,
                commit_id=_uuid(envelope.data.get("commit_id")),
                reason="invalid",
                detail=str(error),
            ),
            envelope.account_id,
        )

    return Subscription(COMMAND_TOPICS, "commands", handle, on_invalid=reject_invalid)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
