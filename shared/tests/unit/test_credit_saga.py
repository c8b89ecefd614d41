"""The client side of the credit saga: which hold covers an item, and billing's late replies."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from igny8.contracts import credits as wire
from igny8.credit_saga import Hold, HoldStatus, apply_reply, covering_hold, release_confirmed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PER_100 = wire.Price(unit="per_100_words", credits_per_unit=1, minimum_credits=5)


def hold(status: HoldStatus = HoldStatus.RESERVED, remaining: int = 100, **kw: Any) -> Hold:
    return Hold(
        uuid.uuid4(),
        status,
        remaining=remaining,
        prices={"content_generation": PER_100},
        expires_at=kw.pop("expires_at", NOW + timedelta(hours=1)),
        **kw,
    )


def test_the_first_live_hold_that_covers_the_ceiling_pays() -> None:
    short, expiring, good = hold(remaining=4), hold(expires_at=NOW + timedelta(seconds=30)), hold()
    found = covering_hold(
        [short, expiring, hold(HoldStatus.REQUESTED), good], "content_generation", 1300, NOW
    )
    assert found == (good, 13)
    assert covering_hold([good], "image_generation", 1, NOW) is None, "no price, no cover"


class Book:
    def __init__(self, *holds: Hold) -> None:
        self.rows = {h.reservation_id: h for h in holds}
        self.owner = uuid.uuid4()

    async def holds(self, owner_id: uuid.UUID, *, for_update: bool = False) -> list[Hold]:
        return list(self.rows.values())

    async def hold(self, reservation_id: uuid.UUID) -> Hold | None:
        return self.rows.get(reservation_id)

    async def owner_of(self, reservation_id: uuid.UUID) -> uuid.UUID | None:
        return self.owner

    async def add(self, *args: Any) -> None:
        raise AssertionError("not used")

    async def update(self, reservation_id: uuid.UUID, **values: Any) -> None:
        values = {k: v for k, v in values.items() if k != "credits"}  # Hold has no size
        self.rows[reservation_id] = dataclasses.replace(self.rows[reservation_id], **values)


def reserved(h: Hold) -> wire.CreditsReserved:
    return wire.CreditsReserved(
        reservation_id=h.reservation_id,
        credits=50,
        expires_at=NOW + timedelta(hours=1),
        available_after=0,
        prices={"content_generation": PER_100},
    )


async def test_a_late_reservation_for_an_ended_owner_is_released_at_once() -> None:
    pending = hold(HoldStatus.REQUESTED, 0)
    book, sent = Book(pending), []

    async def emit(topic: str, payload: Any) -> None:
        sent.append((topic, payload))

    async def ended(owner: uuid.UUID) -> bool:
        return False

    await apply_reply(book, emit, reserved(pending), ended)
    assert sent == [("credit.release", wire.ReleaseCredits(reservation_id=pending.reservation_id))]
    assert book.rows[pending.reservation_id].status is HoldStatus.RELEASING


async def test_only_confirmed_holds_are_released_and_a_released_rejection_is_final() -> None:
    confirmed, pending = hold(), hold(HoldStatus.REQUESTED, 0)
    book, sent = Book(confirmed, pending), []

    async def emit(topic: str, payload: Any) -> None:
        sent.append((topic, payload))

    async def live(owner: uuid.UUID) -> bool:
        return True

    assert await release_confirmed(book, emit, book.owner) == 1
    assert [p.reservation_id for _, p in sent] == [confirmed.reservation_id]
    rejected = wire.CreditsRejected.model_construct(
        reservation_id=pending.reservation_id, reason="released", detail=""
    )
    await apply_reply(book, emit, rejected, live)
    await apply_reply(book, emit, reserved(pending), live)  # a duplicate answer afterwards
    assert book.rows[pending.reservation_id].status is HoldStatus.REJECTED
    assert len(sent) == 1
