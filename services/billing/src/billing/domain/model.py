"""The credit ledger of one billing account: grants, holds and the movements between them.

`AccountLedger` is the aggregate: it is loaded with the account (locked for the transaction) and
its grants, applies one command, and leaves balanced `Movement`s for the repository to append.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from billing.domain.errors import (
    HoldExceeded,
    InsufficientCredits,
    InvalidCommand,
    ReservationEnded,
)
from billing.domain.ledger import Book, Movement, MovementKind, Posting
from billing.domain.pricing import Price


class GrantKind(StrEnum):
    PAID = "paid"
    PLAN = "plan"
    PROMO = "promo"

    @property
    def source(self) -> Book:
        return Book(f"source:{self.value}")


@dataclass
class Grant:
    grant_id: uuid.UUID
    kind: GrantKind
    credits: int
    available: int
    held: int
    expires_at: datetime | None
    created_at: datetime
    swept: bool = False
    """The unspent remainder has been moved out on expiry."""

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def draw_order(self) -> tuple[int, datetime, datetime]:
        """Soonest-expiring first; never-expiring last; older first among equals."""
        if self.expires_at is None:
            return (1, self.created_at, self.created_at)
        return (0, self.expires_at, self.created_at)


@dataclass
class Hold:
    """Credits of one reservation held on one grant."""

    grant_id: uuid.UUID
    amount: int


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def ended(self) -> bool:
        return self is not ReservationStatus.ACTIVE


@dataclass
class Reservation:
    reservation_id: uuid.UUID
    account_id: uuid.UUID
    status: ReservationStatus
    credits: int
    expires_at: datetime
    request_hash: str
    prices: dict[str, Price]
    created_at: datetime
    holds: list[Hold] = field(default_factory=list)
    captured: int = 0
    released: int = 0
    run_id: uuid.UUID | None = None
    ended_at: datetime | None = None

    @property
    def remaining(self) -> int:
        return self.credits - self.captured - self.released

    def require_active(self) -> None:
        if self.status.ended:
            raise ReservationEnded(f"reservation {self.reservation_id} is {self.status.value}")


@dataclass
class BillingAccount:
    account_id: uuid.UUID
    available: int = 0
    held: int = 0
    low_balance_threshold: int | None = None
    low_balance_alerted: bool = False


class AccountLedger:
    def __init__(self, account: BillingAccount, grants: list[Grant], now: datetime) -> None:
        self.account = account
        self.grants = {g.grant_id: g for g in grants}
        self.now = now
        self.movements: list[Movement] = []
        self.touched_grants: set[uuid.UUID] = set()

    # -- postings ---------------------------------------------------------------------------

    def _post(self, movement: Movement, book: Book, amount: int, grant: Grant | None) -> None:
        balance_after = None
        if book is Book.AVAILABLE:
            assert grant is not None
            grant.available += amount
            self.account.available += amount
            balance_after = self.account.available
        elif book is Book.HELD:
            assert grant is not None
            grant.held += amount
            self.account.held += amount
            balance_after = self.account.held
        if grant is not None:
            self.touched_grants.add(grant.grant_id)
            if grant.available < 0 or grant.held < 0:
                raise AssertionError("a grant balance went negative")
        movement.postings.append(
            Posting(book, amount, grant.grant_id if grant else None, balance_after)
        )

    def _record(self, movement: Movement) -> Movement:
        if not movement.balanced:
            raise AssertionError(f"unbalanced movement {movement}")
        if movement.postings:
            self.movements.append(movement)
        return movement

    def _grant_of(self, hold: Hold) -> Grant:
        """The grant a hold with credits left sits on (loaded: a grant holding credits is)."""
        grant = self.grants.get(hold.grant_id)
        if grant is None:
            raise AssertionError(f"grant {hold.grant_id} holds credits but was not loaded")
        return grant

    # -- commands ---------------------------------------------------------------------------

    def grant(
        self, grant_id: uuid.UUID, kind: GrantKind, credits: int, expires_at: datetime | None
    ) -> Grant:
        if credits <= 0:
            raise InvalidCommand("a grant must be a positive number of credits")
        if kind is GrantKind.PROMO and expires_at is None:
            raise InvalidCommand("promo grants need an expiry")
        if kind is GrantKind.PAID and expires_at is not None:
            raise InvalidCommand("paid credits never expire")
        if expires_at is not None and expires_at <= self.now:
            raise InvalidCommand("expiry must lie in the future")
        if kind is GrantKind.PLAN:  # a new period's plan credits replace the previous ones
            for old in list(self.grants.values()):
                if old.kind is GrantKind.PLAN and not old.is_expired(self.now):
                    old.expires_at = self.now
                    self.expire(old)
        grant = Grant(grant_id, kind, credits, 0, 0, expires_at, self.now)
        self.grants[grant_id] = grant
        movement = Movement(MovementKind.GRANT, str(grant_id))
        self._post(movement, kind.source, -credits, None)
        self._post(movement, Book.AVAILABLE, credits, grant)
        self._record(movement)
        return grant

    def reserve(self, reservation_id: uuid.UUID, credits: int) -> list[Hold]:
        """Move credits from available to held, soonest-expiring grants first."""
        spendable = sorted(
            (g for g in self.grants.values() if g.available > 0 and not g.is_expired(self.now)),
            key=Grant.draw_order,
        )
        total = sum(g.available for g in spendable)
        if credits > total:
            raise InsufficientCredits(credits, total)
        movement = Movement(MovementKind.RESERVE, str(reservation_id))
        holds: list[Hold] = []
        left = credits
        for grant in spendable:
            if left == 0:
                break
            take = min(grant.available, left)
            self._post(movement, Book.AVAILABLE, -take, grant)
            self._post(movement, Book.HELD, take, grant)
            holds.append(Hold(grant.grant_id, take))
            left -= take
        self._record(movement)
        return holds

    def capture(self, reservation: Reservation, credits: int, commit_id: uuid.UUID) -> None:
        """Move credits from held to revenue, from the soonest-expiring holds first."""
        reservation.require_active()
        if credits > reservation.remaining:
            raise HoldExceeded(
                f"{credits} credits exceed the remaining hold of {reservation.remaining}"
            )
        movement = Movement(MovementKind.CAPTURE, str(commit_id))
        left = credits
        # Only holds with credits left: a hold used up on a grant that has since lapsed or been
        # replaced points at a swept grant, which the account no longer loads.
        live = [h for h in reservation.holds if h.amount > 0]
        for hold in sorted(live, key=lambda h: self._grant_of(h).draw_order()):
            if left == 0:
                break
            take = min(hold.amount, left)
            self._post(movement, Book.HELD, -take, self._grant_of(hold))
            self._post(movement, Book.REVENUE, take, None)
            hold.amount -= take
            left -= take
        self._record(movement)
        reservation.captured += credits
        if reservation.remaining == 0:
            reservation.status = ReservationStatus.CAPTURED
            reservation.ended_at = self.now

    def release(self, reservation: Reservation, expired: bool) -> int:
        """End a reservation: what is still held goes back (or lapses with an expired grant)."""
        reservation.require_active()
        movement = Movement(MovementKind.RELEASE, str(reservation.reservation_id))
        released = 0
        for hold in reservation.holds:
            if hold.amount == 0:
                continue
            grant = self._grant_of(hold)
            self._post(movement, Book.HELD, -hold.amount, grant)
            if grant.is_expired(self.now):
                self._post(movement, Book.EXPIRED, hold.amount, None)
            else:
                self._post(movement, Book.AVAILABLE, hold.amount, grant)
            released += hold.amount
            hold.amount = 0
        self._record(movement)
        reservation.released += released
        reservation.status = ReservationStatus.EXPIRED if expired else ReservationStatus.RELEASED
        reservation.ended_at = self.now
        return released

    def expire(self, grant: Grant) -> int:
        """Move an expired grant's unspent available credits out; held credits stay on hold."""
        movement = Movement(MovementKind.EXPIRE, str(grant.grant_id))
        lapsed = grant.available
        if lapsed:
            self._post(movement, Book.AVAILABLE, -lapsed, grant)
            self._post(movement, Book.EXPIRED, lapsed, None)
        self._record(movement)
        grant.swept = True
        self.touched_grants.add(grant.grant_id)
        return lapsed

    def revoke(self, grant_id: uuid.UUID, credits: int, reference: str) -> int:
        """Take back up to `credits` of a grant's unspent available credits (a refund).

        What was spent or is held stays where it is: never below zero. Returns what was taken.
        """
        grant = self.grants.get(grant_id)
        if grant is None or grant.is_expired(self.now):
            return 0
        taken = min(credits, grant.available)
        movement = Movement(MovementKind.REVOKE, reference)
        if taken > 0:
            self._post(movement, Book.AVAILABLE, -taken, grant)
            self._post(movement, grant.kind.source, taken, None)
        self._record(movement)
        return taken

    def expire_lapsed_grants(self) -> int:
        return sum(
            self.expire(g)
            for g in list(self.grants.values())
            if g.is_expired(self.now) and not g.swept
        )

    # -- alerts -----------------------------------------------------------------------------

    def low_balance_crossed(self, default_threshold: int) -> int | None:
        """The threshold, once each time available falls below it; re-arms when it recovers."""
        threshold = (
            self.account.low_balance_threshold
            if self.account.low_balance_threshold is not None
            else default_threshold
        )
        if self.account.available < threshold:
            if not self.account.low_balance_alerted:
                self.account.low_balance_alerted = True
                return threshold
        else:
            self.account.low_balance_alerted = False
        return None
