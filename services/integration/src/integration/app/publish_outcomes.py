"""Publishing's outcomes count toward an integration's health (issue 10 §4): a publish that went
through is a good outcome, a permanent refusal a bad one, recorded beside syncs and connection
tests; a changed score is announced as `integration.health_changed`."""

from __future__ import annotations

import uuid

from igny8.contracts.publications import PublicationChanged
from integration.app.integrations import record_outcome
from integration.domain.model import publish_outcome
from integration.ports import SyncRecord, UnitOfWork


async def record_publish_outcome(
    uow: UnitOfWork, account_id: uuid.UUID, event_id: uuid.UUID, payload: PublicationChanged
) -> bool | None:
    """The outcome recorded (None: it says nothing about the destination, or the integration is
    not this account's or is gone)."""
    success = publish_outcome(payload.status, payload.reason, payload.permanent)
    if success is None:
        return None
    integration = await uow.integrations.get(account_id, payload.integration_id)
    if integration is None or integration.deleted:
        return None
    record = SyncRecord(
        sync_id=event_id,  # one record per event: a redelivery cannot count twice
        integration_id=integration.integration_id,
        account_id=account_id,
        kind="publish",
        success=success,
        reason=payload.reason or "published",
        detail=(payload.detail or payload.url or "")[:2000],
    )
    await record_outcome(integration, record, uow)
    return success
