"""The per-process memory of admitted credentials: bounded in time and size, forgotten per
account on a local change."""

from __future__ import annotations

import uuid

from gateway.app.access_cache import AccessCache
from gateway.domain.model import Principal, Role


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_for_the_ttl_and_no_longer():
    clock = Clock()
    cache = AccessCache(5.0, clock=clock)
    ann = Principal(uuid.uuid4(), Role.EDITOR, user_id="ann")
    cache.put(("user", "ann", ann.account_id), ann, cache.generation())
    clock.now += 4.9
    assert cache.get(("user", "ann", ann.account_id)) == ann
    clock.now += 0.1
    assert cache.get(("user", "ann", ann.account_id)) is None
    assert len(cache) == 0


def test_a_local_change_forgets_every_entry_of_the_account_only():
    cache = AccessCache(5.0)
    account, other = uuid.uuid4(), uuid.uuid4()
    cache.put("ann", Principal(account, Role.OWNER, user_id="ann"), cache.generation())
    cache.put("key", Principal(account, Role.VIEWER, api_key_id=uuid.uuid4()), cache.generation())
    cache.put("bob", Principal(other, Role.VIEWER, user_id="bob"), cache.generation())
    cache.forget_account(account)
    assert cache.get("ann") is None and cache.get("key") is None
    assert cache.get("bob") is not None


def test_the_cache_is_bounded_and_a_zero_ttl_remembers_nothing():
    cache = AccessCache(5.0, max_entries=3)
    for n in range(5):
        cache.put(n, Principal(uuid.uuid4(), Role.VIEWER, user_id=str(n)), cache.generation())
    assert len(cache) == 3
    assert cache.get(0) is None and cache.get(4) is not None
    off = AccessCache(0)
    off.put("ann", Principal(uuid.uuid4(), Role.OWNER, user_id="ann"), off.generation())
    assert off.get("ann") is None


def test_an_answer_read_while_its_account_was_forgotten_is_not_remembered():
    # request A reads the membership; meanwhile request B removes the member and forgets the
    # account; A's answer (the old role) must not be cached for a further TTL
    cache = AccessCache(5.0, clock=lambda: 0.0)
    account = uuid.uuid4()
    before_the_read = cache.generation()
    cache.forget_account(account)
    cache.put("ann", Principal(account, Role.OWNER, user_id="ann"), before_the_read)
    assert cache.get("ann") is None
    cache.put("ann", Principal(account, Role.VIEWER, user_id="ann"), cache.generation())
    assert cache.get("ann") is not None
