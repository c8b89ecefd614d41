"""Who a credential acts as, remembered for a few seconds in each gateway process.

A frontend sends the same token with every request; reading its membership (or its API key)
each time was one PostgreSQL round trip per request for an answer that changes rarely.

Revocation semantics (documented in the README):
- A change made through this process — a role changed, a member removed, an API key revoked —
  forgets the account's entries at once: the next request reads the database again.
- A change made through another replica, or in the database directly, is seen here within
  `ttl_s` (the default is 5 s): until then this process may still admit the old role.
- Only admissions are remembered. A refusal (not a member, unknown or revoked key) is read again
  on every request, so a member added or a key created is admitted at once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Hashable

from gateway.domain.model import Principal

MAX_ENTRIES = 10_000


class AccessCache:
    def __init__(
        self,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: dict[Hashable, tuple[Principal, float]] = {}
        self._forgotten = 0

    def generation(self) -> int:
        """Taken before the database is read: an answer read while an account was forgotten is
        not remembered (`put` is given the generation and skips it when it moved)."""
        return self._forgotten

    def get(self, key: Hashable) -> Principal | None:
        found = self._entries.get(key)
        if found is None:
            return None
        principal, until = found
        if self._clock() >= until:
            del self._entries[key]
            return None
        return principal

    def put(self, key: Hashable, principal: Principal, generation: int) -> None:
        if self._ttl_s <= 0 or generation != self._forgotten:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self._max:  # the oldest leave first
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (principal, self._clock() + self._ttl_s)

    def forget_account(self, account_id: uuid.UUID) -> None:
        """Every entry acting in the account (its memberships and its API keys)."""
        self._forgotten += 1
        stale = [k for k, (p, _) in self._entries.items() if p.account_id == account_id]
        for key in stale:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
