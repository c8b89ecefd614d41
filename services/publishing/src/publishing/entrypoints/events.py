"""Kafka entrypoints: articles to publish (`content.ready`) and local replicas of integration's
sites, integrations and inventory items (newest snapshot version kept; deletions cancel)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import Envelope
from igny8.contracts.publications import InventoryItemSnapshot
from igny8.contracts.runs import ContentReady
from igny8.contracts.sites import IntegrationSnapshot, SiteSnapshot
from igny8.db import MessageContext
from igny8.messaging import DeadLetter, Subscription, keep_newest
from igny8.observability import get_logger
from publishing.adapters.sqlalchemy_tables import inventory_items, known_integrations, known_sites
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app.commands import ContentArrived
from publishing.app.manage import cancel_open
from publishing.app.optimize import on_credit_reply
from publishing.app.receive_content import receive_content
from publishing.domain.model import Image
from publishing.ports import Clock

log = get_logger(__name__)
SITE_TOPICS = ("site.created", "site.updated", "site.deleted")
INTEGRATION_TOPICS = (
    "integration.connected",
    "integration.updated",
    "integration.removed",
    "integration.health_changed",
)


def translate(envelope: Envelope, payload: ContentReady) -> ContentArrived:
    assert envelope.account_id is not None
    return ContentArrived(
        account_id=envelope.account_id,
        content_id=payload.content_id,
        site_id=payload.site_id,
        run_id=payload.run_id,
        version=payload.version,
        title=payload.title,
        html=payload.html,
        meta_title=payload.meta_title,
        meta_description=payload.meta_description,
        slug=payload.slug,
        keywords=tuple(payload.keywords),
        images=tuple(Image(i.url, i.alt, i.kind) for i in payload.images),
        auto_publish=payload.auto_publish,
    )


def content_subscription(clock: Clock) -> Subscription:
    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        assert isinstance(payload, ContentReady)
        if envelope.account_id is None:
            raise DeadLetter("content.ready needs the envelope's account_id")
        uow = PublishingUnitOfWork(
            session=session, context=MessageContext(str(envelope.id), envelope.correlation_id)
        )
        touched = await receive_content(translate(envelope, payload), uow, clock)
        log.info(
            "content received",
            content_id=str(payload.content_id),
            version=payload.version,
            publications=[p.status.value for p in touched],
        )

    return Subscription(("content.ready",), "content", handle)


def entity_subscription(clock: Clock) -> Subscription:
    """One consumer for every snapshot topic: sites, integrations and inventory items."""

    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        uow = PublishingUnitOfWork(session=session)
        if isinstance(payload, SiteSnapshot):
            applied = await keep_newest(
                session,
                known_sites,
                {
                    "site_id": payload.site_id,
                    "account_id": payload.account_id,
                    "version": payload.version,
                    "deleted": payload.deleted,
                    "name": payload.name,
                    "url": str(payload.url),
                    "timezone": payload.timezone,
                },
            )
            if applied and payload.deleted:
                await cancel_open(uow, clock, "site deleted", site_id=payload.site_id)
        elif isinstance(payload, IntegrationSnapshot):
            applied = await keep_newest(
                session,
                known_integrations,
                {
                    "integration_id": payload.integration_id,
                    "site_id": payload.site_id,
                    "account_id": payload.account_id,
                    "version": payload.version,
                    "deleted": payload.deleted,
                    "platform": payload.platform,
                    "base_url": payload.base_url,
                    "settings": payload.settings,
                    "is_active": payload.is_active,
                },
            )
            if applied and payload.deleted:
                await cancel_open(
                    uow, clock, "integration removed", integration_id=payload.integration_id
                )
        elif isinstance(payload, InventoryItemSnapshot):
            await keep_newest(
                session,
                inventory_items,
                {
                    "item_id": payload.item_id,
                    "integration_id": payload.integration_id,
                    "site_id": payload.site_id,
                    "account_id": payload.account_id,
                    "version": payload.version,
                    "deleted": payload.deleted,
                    "kind": payload.kind,
                    "remote_id": payload.remote_id,
                    "title": payload.title,
                    "url": payload.url,
                    "excerpt": payload.excerpt,
                    "modified_at": payload.modified_at,
                },
            )

    return Subscription((*SITE_TOPICS, *INTEGRATION_TOPICS, "inventory.item"), "entities", handle)


CREDIT_REPLIES = ("credit.reserved", "credit.rejected", "credit.released", "credit.committed")


def credit_replies_subscription(clock: Clock) -> Subscription:
    """Billing's answers to the optimizer's reserves, captures and releases; others' holds are
    ignored."""

    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        await on_credit_reply(
            PublishingUnitOfWork(session=session), payload, envelope.account_id, clock
        )

    return Subscription(CREDIT_REPLIES, "credits", handle)
