"""Background work of the worker role: the scheduler (one active replica) releases due
publications and publishes them, bounded per destination."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from igny8.observability import get_logger
from publishing.app.optimize import Optimizing
from publishing.app.publish import Published, Publisher, promote_queued, release_due

log = get_logger(__name__)


def scheduler_pass(
    publisher: Publisher,
    per_destination: int,
    batch: int = 20,
    release_for_s: float = 10.0,
    again: asyncio.Event | None = None,
    now: Callable[[], float] | None = None,
) -> Callable[[], Awaitable[None]]:
    """One pass: promote what the queue now has room for, then keep every destination's slots
    busy while anything is due — a publish that ends makes room for the next due publication at
    once, not at the next tick (the job's wake-up, a NOTIFY, starts a pass early when something
    becomes due). At most `batch` are released and not finished at a time (their leases run
    from release). Inbound link proposals run for what was published meanwhile, several at once,
    while the publishes go on. A pass releases for `release_for_s` at most, then finishes what
    it started: between passes the job checks it still holds its lock, and a stopping process
    has little left to wait for; `again` (the job's wake-up) is set then, so that the next pass
    starts at once rather than at the next tick. `now` is the pass's clock (the loop's by
    default; a test's own to check the limit without waiting for it)."""
    gates: dict[uuid.UUID, asyncio.Semaphore] = {}

    async def one(publication_id: uuid.UUID, published: list[Published]) -> None:
        async with publisher.uow_factory() as uow:
            publication = await uow.publications.get(publication_id)
        if publication is None:
            return
        gate = gates.setdefault(publication.integration_id, asyncio.Semaphore(per_destination))
        async with gate:
            try:
                status = await publisher.publish(publication_id, published)
                log.info("publication attempted", publication_id=str(publication_id), status=status)
            except Exception as exc:  # one publication must not stop the others
                log.warning(
                    "publish crashed; the lease will hand it over",
                    publication_id=str(publication_id),
                    error=repr(exc),
                )

    async def run() -> None:
        await promote_queued(publisher.uow_factory, publisher.clock)
        in_flight: set[asyncio.Task[None]] = set()
        published: list[Published] = []
        ended = asyncio.Event()
        clock = now or asyncio.get_running_loop().time
        until = clock() + release_for_s
        try:
            while True:
                ended.clear()
                in_flight = {t for t in in_flight if not t.done()}  # the ended make room
                room = batch - len(in_flight) if clock() < until else 0
                released = (
                    await release_due(
                        publisher.uow_factory, publisher.clock, publisher.policy, room
                    )
                    if room > 0
                    else []
                )
                for publication_id in released:
                    task = asyncio.create_task(one(publication_id, published))
                    task.add_done_callback(lambda _: ended.set())
                    in_flight.add(task)
                if published:  # the destinations' slots stay busy meanwhile
                    done, published[:] = list(published), []
                    await publisher.propose_inbound(done)
                in_flight = {t for t in in_flight if not t.done()}
                if not in_flight and not published:
                    if released:
                        continue
                    if room == 0 and again is not None:  # cut short: more may be due
                        again.set()
                    return
                if not ended.is_set() and (not released or len(in_flight) >= batch):
                    await ended.wait()
        except asyncio.CancelledError:
            # the process is stopping: the leases hand these over
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise
        except Exception:
            # a failed release or proposal: publishes already under way run to their end (cut
            # between the remote post and its commit, one would be posted again)
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise

    return run


def optimizer_pass(optimizing: Optimizing) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        ran = await optimizing.tick()
        if ran:
            log.info("optimizations run", count=ran)

    return run
