"""Kafka entrypoints of integration: publishing's publication outcomes (health)."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from igny8.contracts import Envelope
from igny8.contracts.publications import PublicationChanged
from igny8.db import MessageContext
from igny8.messaging import Subscription
from igny8.observability import get_logger
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.publish_outcomes import record_publish_outcome

log = get_logger(__name__)
PUBLICATION_OUTCOMES = ("publication.completed", "publication.failed")


def publication_subscription() -> Subscription:
    async def handle(envelope: Envelope, payload: BaseModel, session: AsyncSession) -> None:
        assert isinstance(payload, PublicationChanged)
        if envelope.account_id is None:
            return  # publishing always names the account; nothing to attribute it to
        uow = IntegrationUnitOfWork(
            session=session,
            context=MessageContext(str(envelope.id), envelope.correlation_id),
        )
        recorded = await record_publish_outcome(uow, envelope.account_id, envelope.id, payload)
        if recorded is False:
            log.info(
                "permanent publish failure counted against the integration's health",
                integration_id=str(payload.integration_id),
                reason=payload.reason,
            )

    return Subscription(PUBLICATION_OUTCOMES, "publications", handle)
