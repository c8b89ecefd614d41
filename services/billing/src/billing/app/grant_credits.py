"""Granting credits (paid packages, plan periods, promotions), idempotent on a caller's key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from billing.app.commands import GrantCredits
from billing.app.settle import settle
from billing.domain.errors import Conflict, UnknownAccount
from billing.domain.model import Grant
from billing.ports import Clock, Policy, UnitOfWork
from igny8.contracts.credits import CreditsGranted


@dataclass(frozen=True)
class Granted:
    grant: Grant
    created: bool


async def grant_credits(
    cmd: GrantCredits, uow: UnitOfWork, clock: Clock, policy: Policy
) -> Granted:
    ledger = await uow.ledger.load(cmd.account_id, clock.now())
    if ledger is None:
        raise UnknownAccount(f"no billing account {cmd.account_id}")
    earlier = await uow.ledger.grant_for_key(cmd.account_id, cmd.idempotency_key)
    if earlier is not None:
        grant, fingerprint = earlier
        if fingerprint != cmd.fingerprint:
            raise Conflict("this idempotency key was used for another grant")
        return Granted(grant, created=False)
    ledger.expire_lapsed_grants()
    grant = ledger.grant(uuid.uuid4(), cmd.kind, cmd.credits, cmd.expires_at)
    await settle(ledger, uow, policy)
    await uow.ledger.remember_grant_key(
        cmd.account_id, grant.grant_id, cmd.idempotency_key, cmd.fingerprint
    )
    await uow.emit(
        "credit.granted",
        CreditsGranted(
            grant_id=grant.grant_id,
            credits=grant.credits,
            kind=grant.kind.value,
            expires_at=grant.expires_at,
        ),
        cmd.account_id,
    )
    return Granted(grant, created=True)


async def expire_grants(
    account_id: uuid.UUID, uow: UnitOfWork, clock: Clock, policy: Policy
) -> int:
    """Move lapsed grants' unspent credits out (sweeper)."""
    ledger = await uow.ledger.load(account_id, clock.now())
    if ledger is None:
        return 0
    lapsed = ledger.expire_lapsed_grants()
    await settle(ledger, uow, policy)
    return lapsed
