"""Background work of the worker role: the scheduler (one active replica) releases due
publications and publishes them, bounded per destination."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from igny8.observability import get_logger
from publishing.app.optimize import Optimizing
from publishing.app.publish import Publisher, promote_queued, release_due

log = get_logger(__name__)


def scheduler_pass(
    publisher: Publisher, per_destination: int, batch: int = 20
) -> Callable[[], Awaitable[None]]:
    """One pass: promote what the queue now has room for, release what is due, publish it."""
    gates: dict[uuid.UUID, asyncio.Semaphore] = {}

    async def one(publication_id: uuid.UUID) -> None:
        async with publisher.uow_factory() as uow:
            publication = await uow.publications.get(publication_id)
        if publication is None:
            return
        gate = gates.setdefault(publication.integration_id, asyncio.Semaphore(per_destination))
        after: list[Awaitable[None]] = []
        async with gate:
            try:
                status = await publisher.publish(publication_id, after)
                log.info("publication attempted", publication_id=str(publication_id), status=status)
            except Exception as exc:  # one publication must not stop the others
                log.warning(
                    "publish crashed; the lease will hand it over",
                    publication_id=str(publication_id),
                    error=repr(exc),
                )
        for job in after:  # inbound proposals, with the destination's slot free again
            await job

    async def run() -> None:
        await promote_queued(publisher.uow_factory, publisher.clock)
        released = await release_due(
            publisher.uow_factory, publisher.clock, publisher.policy, batch
        )
        if released:
            await asyncio.gather(*(one(p) for p in released))

    return run


def optimizer_pass(optimizing: Optimizing) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        ran = await optimizing.tick()
        if ran:
            log.info("optimizations run", count=ran)

    return run
