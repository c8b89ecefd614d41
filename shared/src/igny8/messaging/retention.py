"""How long messaging keeps what it keeps, and the purges that bound the outbox and inbox.

Dead letters stay 30 days for inspection and replay (`igny8 dlq`). An inbox row is what makes a
redelivered message a duplicate, so it must outlive every copy of its message that can still come
back: the dead-letter copy above all. Inbox rows are therefore kept for the dead-letter retention
plus a margin (a replay on the last day of retention is still recognised), then purged.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from igny8.messaging.tables import INBOX_AGE_INDEX

DAY_S = 86_400
DLQ_RETENTION_S = 30 * DAY_S
INBOX_MARGIN_S = 7 * DAY_S
INBOX_KEEP_S = DLQ_RETENTION_S + INBOX_MARGIN_S
OUTBOX_KEEP_SENT_S = 7 * DAY_S

_CHUNK = 10_000
_PURGE_SENT = sa.text(
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at < now() - "
    "make_interval(secs => :keep) LIMIT :n)"
)
_PURGE_INBOX = sa.text(
    "DELETE FROM inbox WHERE (consumer, message_id) IN (SELECT consumer, message_id FROM inbox "
    "WHERE received_at < now() - make_interval(secs => :keep) LIMIT :n)"
)


async def _purge(conn: AsyncConnection, statement: sa.TextClause, keep_s: float) -> int:
    """Delete in chunks (short transactions, no long locks); at most 10 chunks per pass."""
    total = 0
    for _ in range(10):
        deleted = (await conn.execute(statement, {"keep": keep_s, "n": _CHUNK})).rowcount
        await conn.commit()
        total += deleted
        if deleted < _CHUNK:
            break
    return total


async def purge_sent_outbox(conn: AsyncConnection, keep_s: float = OUTBOX_KEEP_SENT_S) -> int:
    return await _purge(conn, _PURGE_SENT, keep_s)


_INDEX_STATE = sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)")


async def ensure_inbox_age_index(conn: AsyncConnection) -> bool:
    """Build the inbox's age index where an older database lacks it; True when it was built.

    `conn` must be in autocommit: the index is built CONCURRENTLY, so consumers keep inserting
    meanwhile. A build that failed half way leaves an invalid index, which is rebuilt."""
    valid = (await conn.execute(_INDEX_STATE, {"name": INBOX_AGE_INDEX})).scalar()
    if valid:
        return False
    if valid is not None:
        await conn.execute(sa.text(f"DROP INDEX CONCURRENTLY IF EXISTS {INBOX_AGE_INDEX}"))
    await conn.execute(
        sa.text(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INBOX_AGE_INDEX} ON inbox (received_at)")
    )
    return True


async def purge_inbox(conn: AsyncConnection, keep_s: float = INBOX_KEEP_S) -> int:
    if keep_s < DLQ_RETENTION_S + DAY_S:
        raise ValueError("inbox rows must outlive the dead-letter retention by a day or more")
    return await _purge(conn, _PURGE_INBOX, keep_s)
