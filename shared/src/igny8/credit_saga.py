"""The client side of billing's credit reservation saga (DESIGN §4), for every service that pays
for work with credits (automation's runs, publishing's optimizer): the same rules everywhere, so
they pay exactly alike.

- reserve: a hold is requested with its items kept, so an unanswered `credit.reserve` is re-sent
  unchanged (same reservation id, a new envelope) until billing answers or a deadline passes;
- cover: an item starts only when a live hold covers its most expensive outcome at the hold's
  locked prices (`covering_hold`);
- claim: the item's actual usage is taken from a hold (under the caller's row locks) and sent as
  `credit.commit` with a deterministic commit id, in the item's own transaction;
- release: only holds billing confirmed are released (a release may overtake an unanswered
  reserve on another topic; billing then rejects the late reserve as `released`);
- late replies: a `credit.reserved` for a hold whose owner has ended, or that was released, is
  released at once; a rejection as `released` is final.

Infrastructure-free: the caller's unit of work stores holds behind `HoldBook` and sends through
`emit`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypedDict, Unpack

from pydantic import BaseModel

from igny8.contracts import credits as wire
from igny8.contracts.pricing import credits_for

EXPIRY_MARGIN = timedelta(seconds=60)
"""A hold this close to its expiry no longer covers an item: the item could outlive it."""


class HoldStatus(StrEnum):
    REQUESTED = "requested"
    RESERVED = "reserved"
    REJECTED = "rejected"
    RELEASING = "releasing"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Hold:
    reservation_id: uuid.UUID
    status: HoldStatus
    remaining: int = 0
    prices: dict[str, wire.Price] = field(default_factory=dict)
    expires_at: datetime | None = None
    created_at: datetime | None = None
    request: tuple[wire.ReserveItem, ...] = ()
    reply: dict[str, Any] | None = None

    def live(self, now: datetime) -> bool:
        return self.status is HoldStatus.RESERVED and (
            self.expires_at is None or self.expires_at >= now + EXPIRY_MARGIN
        )

    def cost(self, operation: str, quantity: int) -> int | None:
        """Credits `quantity` of `operation` costs at this hold's locked prices (None: the hold
        has no price for it)."""
        price = self.prices.get(operation)
        return None if price is None else credits_for(price, quantity)


class HoldChanges(TypedDict, total=False):
    """What a reply or a claim changes on a hold; a field left out keeps its value."""

    status: HoldStatus
    credits: int
    """What billing held (the hold's size; `remaining` counts down from it)."""
    remaining: int
    expires_at: datetime
    prices: dict[str, wire.Price]
    reply: dict[str, Any]
    """Billing's refusal as it came (`credit.rejected`'s data)."""


class HoldBook(Protocol):
    """Where a service keeps its holds (one owner: a run, a publication …)."""

    async def holds(self, owner_id: uuid.UUID, *, for_update: bool = False) -> list[Hold]: ...

    async def hold(self, reservation_id: uuid.UUID) -> Hold | None: ...

    async def owner_of(self, reservation_id: uuid.UUID) -> uuid.UUID | None: ...

    async def add(
        self,
        owner_id: uuid.UUID,
        account_id: uuid.UUID,
        reservation_id: uuid.UUID,
        request: Sequence[wire.ReserveItem],
    ) -> None: ...

    async def update(self, reservation_id: uuid.UUID, **values: Unpack[HoldChanges]) -> None: ...


Emit = Callable[[str, BaseModel], Awaitable[None]]
"""Sends one message through the caller's outbox (account and site are the caller's)."""


def covering_hold(
    holds: Sequence[Hold], operation: str, quantity: int, now: datetime
) -> tuple[Hold, int] | None:
    """The first live hold whose remaining credits cover `quantity` of `operation`, with the cost.
    The one rule for "may this item start" and "where does its charge come from"."""
    for hold in holds:
        if not hold.live(now):
            continue
        cost = hold.cost(operation, quantity)
        if cost is not None and hold.remaining >= cost:
            return hold, cost
    return None


def only_expired(holds: Sequence[Hold], now: datetime) -> bool:
    """Every confirmed hold is about to expire (time to reserve again, and to say so)."""
    reserved = [h for h in holds if h.status is HoldStatus.RESERVED]
    return bool(reserved) and not any(h.live(now) for h in reserved)


async def request_hold(
    book: HoldBook,
    emit: Emit,
    owner_id: uuid.UUID,
    account_id: uuid.UUID,
    items: dict[str, int],
    ttl_s: int,
    run_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record a requested hold with its items and send `credit.reserve`."""
    reservation_id = uuid.uuid4()
    request = [wire.ReserveItem(operation=op, quantity=q) for op, q in items.items()]
    await book.add(owner_id, account_id, reservation_id, request)
    await emit(
        "credit.reserve",
        wire.ReserveCredits(
            reservation_id=reservation_id, items=request, ttl_seconds=ttl_s, run_id=run_id
        ),
    )
    return reservation_id


async def resend_reserve(
    emit: Emit, hold: Hold, ttl_s: int, run_id: uuid.UUID | None = None
) -> None:
    """The same reservation again under a new envelope (billing answers a duplicate with its
    first answer)."""
    await emit(
        "credit.reserve",
        wire.ReserveCredits(
            reservation_id=hold.reservation_id,
            items=list(hold.request) or [wire.ReserveItem(operation="clustering", quantity=0)],
            ttl_seconds=ttl_s,
            run_id=run_id,
        ),
    )


async def claim(
    book: HoldBook,
    emit: Emit,
    owner_id: uuid.UUID,
    operation: str,
    quantity: int,
    commit_id: uuid.UUID,
    now: datetime,
    usage: wire.Usage | None = None,
    ref: wire.UsageRef | None = None,
) -> int | None:
    """Take the credits of `quantity` from a covering hold under row locks (so concurrent items
    never spend the same credits twice) and send the capture; None when no hold covers it."""
    found = covering_hold(await book.holds(owner_id, for_update=True), operation, quantity, now)
    if found is None:
        return None
    hold, credits = found
    await book.update(hold.reservation_id, remaining=hold.remaining - credits)
    await emit(
        "credit.commit",
        wire.CommitCredits(
            reservation_id=hold.reservation_id,
            commit_id=commit_id,
            operation=operation,
            quantity=quantity,
            usage=usage,
            ref=ref,
        ),
    )
    return credits


async def release_confirmed(book: HoldBook, emit: Emit, owner_id: uuid.UUID) -> int:
    """Release every hold billing confirmed. Unanswered ones are left alone: a release could
    overtake its reserve; their late `credit.reserved` is released by `apply_reply`."""
    released = 0
    for hold in await book.holds(owner_id):
        if hold.status is HoldStatus.RESERVED:
            await emit("credit.release", wire.ReleaseCredits(reservation_id=hold.reservation_id))
            await book.update(hold.reservation_id, status=HoldStatus.RELEASING)
            released += 1
    return released


async def close_after_capture(book: HoldBook, owner_id: uuid.UUID) -> int:
    """End the owner's holds right after its last capture, in the same transaction, without a
    release: a `credit.release` beside the `credit.commit` travels on another topic and can be
    applied first, ending the reservation so the commit fails and the work goes unbilled.
    A hold the capture used up is ended by billing itself (its last credit captured), so it is
    closed here; one with credits left is released once billing has answered the capture."""
    closed = 0
    for hold in await book.holds(owner_id):
        if hold.status is HoldStatus.RESERVED and hold.remaining == 0:
            await book.update(hold.reservation_id, status=HoldStatus.RELEASED)
            closed += 1
    return closed


async def apply_reply(
    book: HoldBook,
    emit: Emit,
    payload: BaseModel,
    owner_live: Callable[[uuid.UUID], Awaitable[bool]],
) -> None:
    """Billing's answer to a reserve or a release, applied to the hold it names."""
    if isinstance(payload, wire.CreditsReserved):
        hold = await book.hold(payload.reservation_id)
        if hold is None:
            return
        owner = await book.owner_of(payload.reservation_id)
        if hold.status is HoldStatus.REQUESTED and owner is not None and await owner_live(owner):
            # only the first answer sets the hold; captures have been counting it down since
            await book.update(
                payload.reservation_id,
                status=HoldStatus.RESERVED,
                credits=payload.credits,
                remaining=payload.credits,
                expires_at=payload.expires_at,
                prices=dict(payload.prices),
            )
        elif hold.status in (HoldStatus.REQUESTED, HoldStatus.RELEASING, HoldStatus.RELEASED):
            # the owner ended (or released it) before billing's answer: give the credits back now
            await emit("credit.release", wire.ReleaseCredits(reservation_id=payload.reservation_id))
            await book.update(payload.reservation_id, status=HoldStatus.RELEASING, remaining=0)
    elif isinstance(payload, wire.CreditsRejected) and payload.reservation_id is not None:
        hold = await book.hold(payload.reservation_id)
        if hold is not None and hold.status in (HoldStatus.REQUESTED, HoldStatus.RELEASING):
            await book.update(
                payload.reservation_id,
                status=HoldStatus.REJECTED,
                remaining=0,
                reply=payload.model_dump(mode="json"),
            )
    elif isinstance(payload, wire.CreditsReleased):
        hold = await book.hold(payload.reservation_id)
        if hold is not None and hold.status is not HoldStatus.REJECTED:
            await book.update(
                payload.reservation_id,
                remaining=0,
                status=HoldStatus.EXPIRED if payload.reason == "expired" else HoldStatus.RELEASED,
            )
