"""Parking messages in `<topic>.dlq`: the headers that say why and where from, and a publish that
never gives up on a message — and never loops forever on one the broker cannot take.

Headers of a dead letter (strings): the original record's headers, plus
`dlq-reason` (undecodable | invalid | rejected_by_handler | handler_failed), `dlq-error`,
`dlq-original-topic|partition|offset`, `dlq-consumer` (the group that dead-lettered it: a replay
goes back to that group only) and `dlq-attempts`. The dead letter's own Kafka timestamp is when it
was parked. `igny8 dlq` (igny8.dlq) reads and replays them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError

from igny8.contracts.transport import DLQ_SUFFIX, REPLAY_HEADER_PREFIX
from igny8.observability import get_logger

log = get_logger(__name__)

MAX_ERROR_BYTES = 4000
_TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)

Publish = Callable[..., Awaitable[Any]]


def dead_letter_headers(
    original: Any, consumer: str, reason: str, error: str, attempts: int
) -> dict[str, str]:
    """The original record's headers plus why, where from and by whom it was dead-lettered.
    What is added is bounded (the error is cut to 4 KB), so a record its topic accepted fits
    its dead-letter topic, whose size limit is 64 KiB larger."""
    headers = {
        k: v.decode(errors="replace")
        for k, v in (original.headers or ())
        if v is not None and not k.startswith(("dlq-", REPLAY_HEADER_PREFIX))
    }
    headers.update(
        {
            "dlq-reason": reason,
            "dlq-error": error.encode()[:MAX_ERROR_BYTES].decode(errors="ignore"),
            "dlq-original-topic": original.topic,
            "dlq-original-partition": str(original.partition),
            "dlq-original-offset": str(original.offset),
            "dlq-consumer": consumer,
            "dlq-attempts": str(attempts),
        }
    )
    return headers


async def park(publish: Publish, original: Any, headers: dict[str, str]) -> None:
    """Publish the dead letter, retrying with backoff until the broker has it: the consumer
    never moves past a message that was not parked somewhere. Should the broker refuse it as too
    large anyway (a dead-letter topic created with a smaller limit), the value is dropped and the
    coordinates kept — a stub that still says where the original is — instead of looping forever."""
    value: bytes = original.value or b""
    delay = 0.2
    while True:
        try:
            await publish(
                value, topic=original.topic + DLQ_SUFFIX, key=original.key, headers=headers
            )
            return
        except _TOO_LARGE as exc:
            log.error(
                "dead letter too large for its topic; parking it without its value",
                topic=original.topic,
                offset=original.offset,
                bytes=len(value),
                error=repr(exc),
            )
            headers = {k: v for k, v in headers.items() if k.startswith("dlq-")}
            headers["dlq-value-dropped"] = str(len(value))
            value = b""
        except Exception as exc:
            log.warning("dead-letter publish failed; retrying", error=repr(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
