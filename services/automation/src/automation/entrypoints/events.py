"""Kafka entrypoints: site snapshots (who owns which site; deletion cancels its run), billing's
replies to our credit commands, and publishing's outcomes (an article becomes `published`)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from automation.adapters.sqlalchemy_tables import known_sites
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.publications import apply_publication
from automation.app.run_engine import RunEngine
from automation.app.runs import cancel_run
from automation.domain.runs import LIVE, RunStatus
from automation.ports import Clock
from igny8.contracts import Envelope
from igny8.contracts import credits as wire
from igny8.contracts.publications import PublicationChanged
from igny8.contracts.runs import GenerateImage
from igny8.contracts.sites import SiteSnapshot
from igny8.credit_saga import apply_reply
from igny8.messaging import Subscription
from igny8.messaging.entities import keep_site
from igny8.observability import get_logger

log = get_logger(__name__)
SITE_TOPICS = ("site.created", "site.updated", "site.deleted")
PUBLICATION_TOPICS = ("publication.completed", "publication.unpublished")
CREDIT_REPLIES = (
    "credit.reserved",
    "credit.rejected",
    "credit.committed",
    "credit.released",
    "credit.command_failed",
)


def site_subscription(clock: Clock) -> Subscription:
    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        assert isinstance(payload, SiteSnapshot)
        applied = await keep_site(session, known_sites, payload)
        if applied and payload.deleted:
            uow = AutomationUnitOfWork(session=session)
            run = await uow.runs.live_run(payload.site_id)
            if (
                run is not None and run.status is not RunStatus.FINISHING
            ):  # that one is ending anyway
                await cancel_run(uow, run, clock, "site deleted")

    return Subscription(SITE_TOPICS, "sites", handle)


def publication_subscription() -> Subscription:
    """Publishing decides and publishes; automation only shows where its articles went."""

    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        assert isinstance(payload, PublicationChanged)
        status = await apply_publication(
            AutomationUnitOfWork(session=session), envelope.account_id, payload
        )
        if status is None:
            log.info(
                "publication event for an unknown article ignored",
                content_id=str(payload.content_id),
                site_id=str(payload.site_id),
            )

    return Subscription(PUBLICATION_TOPICS, "publications", handle)


def credit_replies_subscription() -> Subscription:
    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        uow = AutomationUnitOfWork(session=session)
        if isinstance(payload, wire.CreditsCommitted):
            await uow.items.settle_capture(payload.commit_id)
        elif isinstance(payload, wire.CreditCommandFailed):
            if payload.commit_id is not None:
                await uow.items.settle_capture(payload.commit_id)  # answered, even if refused
            log.warning(
                "billing refused a credit command",
                command=payload.command_type,
                reason=payload.reason,
                detail=payload.detail,
            )
        else:

            async def live(run_id: uuid.UUID) -> bool:
                run = await uow.runs.run(run_id)
                return run is not None and run.status in LIVE

            async def emit(topic: str, message: BaseModel) -> None:
                await uow.emit(topic, message, envelope.account_id, None)

            await apply_reply(uow.holds, emit, payload, live)
        run_id = _uuid(envelope.correlation_id)  # the run that asked (its driver may be waiting)
        if run_id is not None:
            await uow.run_queue.signal_run(run_id)

    return Subscription(CREDIT_REPLIES, "credits", handle)


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def image_subscription(engine: RunEngine) -> Subscription:
    """The image.generate work topic: images of all runs, side by side (bounded)."""

    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        assert isinstance(payload, GenerateImage)
        outcome = await engine.image_item(payload.run_id, payload.fencing_token, payload.prompt_id)
        log.info("image.generate handled", run_id=str(payload.run_id), outcome=outcome)

    # a few records in flight and no inbox transaction across the provider call: no record
    # holds a pooled connection across it. Records flow (igny8.messaging.flow): the next is
    # fetched the moment one ends, not when a whole batch has. Four times the image gate: the
    # gate's calls, the images being saved (their checkpoints commit one at a time per run)
    # and one or two read and waiting at the gate (bench/pipeline.py stage 6 under load: with
    # twice the gate it stood idle 1.4-1.9 s of 6.6-8.8 s, with four times 0.5-0.7 s).
    return Subscription(
        ("image.generate",),
        "images",
        handle,
        parallel=True,
        max_batch=4 * engine.image_concurrency,  # records in flight
        own_transactions=True,
    )
