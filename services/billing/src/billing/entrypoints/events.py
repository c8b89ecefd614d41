"""Kafka entrypoint: credit.reserve / credit.commit / credit.release → use cases → replies.

A consumed batch is applied in one transaction (`apply_ledger_batch`: accounts locked once each,
writes in multi-row statements); each command keeps its own outcome and reply, and a typed failure
leaves no trace but its `credit.command_failed` reply. Should a batch fail otherwise, the consumer
falls back to `handle`, one command per transaction (inbox row included), in a savepoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.sqlalchemy_ledger_batch import SqlAlchemyLedgerBatch
from billing.adapters.sqlalchemy_unit_of_work import BillingUnitOfWork
from billing.app import commands
from billing.app.apply_ledger_batch import BatchedCommand, apply_ledger_batch
from billing.app.commit_credits import commit_credits
from billing.app.release_credits import release_credits
from billing.app.reserve_credits import reserve_credits
from billing.domain.errors import BillingError
from billing.entrypoints.errors import failure_reason
from billing.ports import Clock, Policy
from igny8.contracts import Envelope, InvalidPayload
from igny8.contracts import credits as wire
from igny8.db import MessageContext
from igny8.messaging import BatchHandler, DeadLetter, Subscription

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
                "credit.command_failed", failure(envelope.type, cmd, error), cmd.account_id
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

    return Subscription(
        COMMAND_TOPICS,
        "commands",
        handle,
        on_invalid=reject_invalid,
        batch_handler=command_batch_handler(clock, policy),
    )


def command_batch_handler(clock: Clock, policy: Policy) -> BatchHandler:
    """A consumed batch's decoded, non-duplicate commands in one transaction."""

    async def handle_batch(
        messages: Sequence[tuple[Envelope, BaseModel]], session: AsyncSession
    ) -> None:
        batch = []
        for envelope, payload in messages:
            if envelope.account_id is None:  # the per-message fallback dead-letters it
                raise DeadLetter("a credit command needs the envelope's account_id")
            batch.append(
                BatchedCommand(
                    translate(envelope, payload), str(envelope.id), envelope.correlation_id
                )
            )
        uow = SqlAlchemyLedgerBatch(session)

        async def failed(item: BatchedCommand, error: BillingError) -> None:
            cmd = item.command
            await uow.emit(
                "credit.command_failed", failure(TOPIC_OF[type(cmd)], cmd, error), cmd.account_id
            )

        await apply_ledger_batch(batch, uow, clock, policy, failed)

    return handle_batch


TOPIC_OF: dict[type[Any], str] = {
    commands.ReserveCredits: "credit.reserve",
    commands.CommitCredits: "credit.commit",
    commands.ReleaseCredits: "credit.release",
}


def failure(command_type: str, cmd: Any, error: BillingError) -> wire.CreditCommandFailed:
    return wire.CreditCommandFailed(
        command_type=command_type,
        reservation_id=getattr(cmd, "reservation_id", None),
        commit_id=getattr(cmd, "commit_id", None),
        reason=failure_reason(error),
        detail=error.detail,
    )


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
