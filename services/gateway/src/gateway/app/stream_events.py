"""Use case of the stream consumer: an event a frontend follows joins the resume window."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.ports import StreamWriter


async def record_event(
    writer: StreamWriter,
    *,
    event_id: uuid.UUID,
    account_id: uuid.UUID | None,
    site_id: uuid.UUID | None,
    run_id: uuid.UUID | None,
    type_: str,
    data: dict[str, Any],
    time: datetime,
    window: timedelta,
    now: datetime | None = None,
) -> bool:
    """Stores the event unless it has no account (nobody may see it) or is older than the resume
    window (a consumer group reading from the beginning replays old history: not progress)."""
    if account_id is None:
        return False
    if time < (now or datetime.now(UTC)) - window:
        return False
    await writer.append(event_id, account_id, site_id, run_id, type_, data, time)
    return True
