"""Credentials kept in memory between publishes: asked for once per `ttl_s` and integration,
again once forgotten (a destination refused them) or expired, never shown in a repr."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from publishing.adapters.internal_http import KeptCredentials


class Source:
    def __init__(self) -> None:
        self.asked = 0
        self.password = "first secret"

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        return False

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        self.asked += 1
        return {"username": "admin", "application_password": self.password}


async def test_credentials_are_kept_for_their_ttl_then_asked_for_again():
    source, now = Source(), [100.0]
    kept = KeptCredentials(source, ttl_s=60, now=lambda: now[0])
    account, integration, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    first = await kept.credentials(account, integration)
    first["application_password"] = "changed by a caller"  # a copy: the kept one is intact
    assert (await kept.credentials(account, integration))["application_password"] == "first secret"
    assert source.asked == 1
    await kept.credentials(account, other)  # per integration
    assert source.asked == 2
    source.password = "rotated"
    now[0] += 61
    assert (await kept.credentials(account, integration))["application_password"] == "rotated"
    assert source.asked == 3
    assert "secret" not in repr(kept) and "rotated" not in repr(kept)
    assert "kept=1" in repr(kept), "the other integration's expired copy went with the fetch"


async def test_forgetting_drops_the_kept_copy_and_says_whether_one_was_served():
    source = Source()
    kept = KeptCredentials(source, ttl_s=60)
    account, integration = uuid.uuid4(), uuid.uuid4()
    fresh = await kept.credentials(account, integration)
    assert kept.forget(integration, fresh) is False, "just fetched: a refusal of these is final"
    await kept.credentials(account, integration)
    stale = await kept.credentials(account, integration)  # served from what was kept
    source.password = "rotated"
    assert kept.forget(integration, stale) is True
    assert (await kept.credentials(account, integration))["application_password"] == "rotated"
    assert source.asked == 3


async def test_two_publishes_refused_the_same_stale_copy_both_ask_again():
    """The first refusal fetches the rotated credentials; the second one's copy is still the
    stale one, so it too may ask again (it used to be told the refusal was final)."""
    source = Source()
    kept = KeptCredentials(source, ttl_s=60)
    account, integration = uuid.uuid4(), uuid.uuid4()
    await kept.credentials(account, integration)
    first = await kept.credentials(account, integration)
    second = await kept.credentials(account, integration)  # both served the kept copy
    source.password = "rotated"
    assert kept.forget(integration, first) is True
    rotated = await kept.credentials(account, integration)
    assert kept.forget(integration, second) is True
    assert (await kept.credentials(account, integration)) == rotated, "the fresh copy stays"
    assert source.asked == 2


async def test_a_ttl_of_zero_keeps_nothing():
    source = Source()
    kept = KeptCredentials(source, ttl_s=0)
    account, integration = uuid.uuid4(), uuid.uuid4()
    await kept.credentials(account, integration)
    await kept.credentials(account, integration)
    assert source.asked == 2
    assert kept.forget(integration, await kept.credentials(account, integration)) is False
