"""Use case of `Idempotency-Key`: the first request with a key runs and its answer is stored; a
repeat replays it; the same key with another request is a conflict. Upstream failures (5xx) and
rate-limit refusals are not stored, so a retry runs again."""

from __future__ import annotations

import hashlib
import uuid

from gateway.domain.errors import Conflict
from gateway.ports import IdempotencyKeys, StoredAnswer

MAX_KEY = 255


def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


async def begin(
    keys: IdempotencyKeys, account_id: uuid.UUID, key: str, print_: str
) -> StoredAnswer | None:
    """None: the caller runs the request (then `finish` or `abandon`); else the answer to
    replay."""
    if len(key) > MAX_KEY:
        raise Conflict("Idempotency-Key is longer than 255 characters", code="idempotency_key")
    held = await keys.claim(account_id, key, print_)
    if held is None:
        return None
    if held.fingerprint != print_:
        raise Conflict(
            "this Idempotency-Key was used with another request", code="idempotency_key_reused"
        )
    if held.status is None:
        raise Conflict(
            "a request with this Idempotency-Key is in progress", code="idempotency_key_in_use"
        )
    return held


async def finish(
    keys: IdempotencyKeys,
    account_id: uuid.UUID,
    key: str,
    status: int,
    body: bytes,
    content_type: str | None,
) -> None:
    if status >= 500 or status == 429:
        await keys.release(account_id, key)
    else:
        await keys.complete(account_id, key, status, body, content_type)


async def abandon(keys: IdempotencyKeys, account_id: uuid.UUID, key: str) -> None:
    await keys.release(account_id, key)
