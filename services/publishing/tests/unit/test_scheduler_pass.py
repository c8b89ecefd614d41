"""A scheduler pass that fails part-way (a release or a proposal hitting a database error) lets
the publishes already under way finish: cut between the remote post and its commit, a
publication would be posted a second time when its lease hands it over."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from publishing.entrypoints import timers


class _Uow:
    def __init__(self) -> None:
        self.publications = self

    async def get(self, publication_id: uuid.UUID) -> Any:
        return SimpleNamespace(integration_id=uuid.uuid4())

    async def __aenter__(self) -> _Uow:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


def _publisher(monkeypatch: pytest.MonkeyPatch, release_due: Any, publish: Any) -> Any:
    """A publisher whose releases and publishes are the test's; nothing is queued or proposed."""

    async def promote_queued(*_: object) -> None:
        return None

    async def propose_inbound(done: list[Any]) -> None:
        return None

    monkeypatch.setattr(timers, "release_due", release_due)
    monkeypatch.setattr(timers, "promote_queued", promote_queued)
    return SimpleNamespace(
        uow_factory=_Uow, clock=None, policy=None, publish=publish, propose_inbound=propose_inbound
    )


async def test_a_failed_release_lets_the_publishes_under_way_finish(monkeypatch):
    posting = asyncio.Event()
    finished: list[uuid.UUID] = []
    calls = 0

    async def release_due(*_: object) -> list[uuid.UUID]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return [uuid.uuid4()]
        await posting.wait()  # the publish is between its remote post and its commit
        raise ConnectionError("database went away")

    async def publish(publication_id: uuid.UUID, published: list[Any]) -> str:
        posting.set()
        await asyncio.sleep(0.05)
        finished.append(publication_id)
        return "published"

    publisher = _publisher(monkeypatch, release_due, publish)
    run = timers.scheduler_pass(publisher, per_destination=1, batch=2)  # type: ignore[arg-type]
    with pytest.raises(ConnectionError):
        await run()
    assert len(finished) == 1, "the publish under way ran to its end"


async def test_a_pass_stops_releasing_at_its_limit_and_wakes_the_next(monkeypatch):
    """Something is always due (a long queue): the pass releases while its clock is under
    `release_for_s`, then finishes what it started, releases nothing more and sets `again` so
    that the next pass (after the job's lock check) starts at once."""
    clock = [0.0]
    released: list[uuid.UUID] = []
    finished: list[uuid.UUID] = []

    async def release_due(uow_factory: Any, clock_: Any, policy: Any, room: int) -> list[uuid.UUID]:
        found = [uuid.uuid4() for _ in range(room)]
        released.extend(found)
        return found

    async def publish(publication_id: uuid.UUID, published: list[Any]) -> str:
        await asyncio.sleep(0)
        clock[0] += 3.0  # each publish takes three seconds of the pass's clock
        finished.append(publication_id)
        return "published"

    publisher = _publisher(monkeypatch, release_due, publish)
    again = asyncio.Event()
    run = timers.scheduler_pass(  # type: ignore[arg-type]
        publisher, per_destination=1, batch=1, release_for_s=10.0, again=again, now=lambda: clock[0]
    )
    await asyncio.wait_for(run(), 5)  # a pass that never stopped would hang here
    # released at 0, 3, 6 and 9 s of its clock; none at 12 s, past the limit
    assert len(released) == 4
    assert finished == released, "what it released, it finished"
    assert again.is_set(), "the next pass starts at once: more was due"
