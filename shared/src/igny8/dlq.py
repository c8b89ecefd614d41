"""`igny8 dlq list|show|replay|purge`: operators' tools for dead letters.

The runbook is docs/runbook-dead-letters.md.

A replay publishes the dead letter's original value and headers back to its original topic with
`igny8-replay-for: <the consumer group that dead-lettered it>`; every other group skips it (they
applied the message the first time), and the target group's inbox makes a replay of an applied
message a no-op. Who replayed what travels with the replayed record (`igny8-replay-by`, `-at`,
`-of`), is printed by this command as a JSON line, and is logged by the consumer that handles it —
no service database is needed to replay, and the record of it stays beside the message in Kafka.

Purging deletes a prefix of each partition (Kafka deletes nothing else): everything older than a
time, or everything.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

# Only the contracts' constants: this command must start fast (no messaging stack to import).
from igny8.contracts.transport import DLQ_SUFFIX, PRODUCER_MAX_REQUEST_BYTES, REPLAY_HEADER_PREFIX

REPLAY_FOR = REPLAY_HEADER_PREFIX + "for"
REPLAY_BY = REPLAY_HEADER_PREFIX + "by"
REPLAY_AT = REPLAY_HEADER_PREFIX + "at"
REPLAY_OF = REPLAY_HEADER_PREFIX + "of"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    """The dead-letter topic (`<original>.dlq`)."""
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def coordinates(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    def summary(self) -> dict[str, Any]:
        return {
            "at": f"{self.partition}:{self.offset}",
            "dead_lettered_at": self.timestamp.isoformat(),
            "reason": self.header("dlq-reason"),
            "consumer": self.header("dlq-consumer"),
            "key": (self.key or b"").decode(errors="replace"),
            "original": (
                f"{self.header('dlq-original-topic')}[{self.header('dlq-original-partition')}]"
                f"@{self.header('dlq-original-offset')}"
            ),
            "attempts": self.header("dlq-attempts"),
            "error": self.header("dlq-error"),
            "bytes": len(self.value),
        }


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None
    key: str | None = None
    consumer: str | None = None
    at: tuple[tuple[int, int], ...] = ()
    """Exact dead letters, as (partition, offset)."""

    @property
    def empty(self) -> bool:
        return not (self.since or self.until or self.reason or self.key or self.consumer or self.at)

    def match(self, letter: DeadLetter) -> bool:
        return (
            (self.since is None or letter.timestamp >= self.since)
            and (self.until is None or letter.timestamp < self.until)
            and (self.reason is None or letter.header("dlq-reason") == self.reason)
            and (self.key is None or (letter.key or b"").decode(errors="replace") == self.key)
            and (self.consumer is None or letter.header("dlq-consumer") == self.consumer)
            and (not self.at or (letter.partition, letter.offset) in self.at)
        )


def dlq_name(topic: str) -> str:
    return topic if topic.endswith(DLQ_SUFFIX) else topic + DLQ_SUFFIX


async def _partitions(bootstrap: str, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if described.get("error_code"):
        raise SystemExit(f"igny8 dlq: no topic {topic}")
    return [TopicPartition(topic, p["partition"]) for p in described["partitions"]]


async def read(bootstrap: str, topic: str, filters: Filters = Filters()) -> list[DeadLetter]:
    """The dead letters of `topic` (original or .dlq name) matching the filters, oldest first
    per partition; read without a consumer group, up to the end offsets seen at the start."""
    name = dlq_name(topic)
    parts = await _partitions(bootstrap, name)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=PRODUCER_MAX_REQUEST_BYTES,
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            batch = await consumer.getmany(*parts, timeout_ms=1000)
            for records in batch.values():
                for r in records:
                    if r.offset >= ends[TopicPartition(r.topic, r.partition)]:
                        continue
                    letter = DeadLetter(
                        topic=r.topic,
                        partition=r.partition,
                        offset=r.offset,
                        timestamp=datetime.fromtimestamp(r.timestamp / 1000, UTC),
                        key=r.key,
                        value=r.value or b"",
                        headers={
                            k: v.decode(errors="replace") for k, v in r.headers if v is not None
                        },
                    )
                    if filters.match(letter):
                        letters.append(letter)
    finally:
        await consumer.stop()
    return sorted(letters, key=lambda d: (d.partition, d.offset))


async def replay(
    bootstrap: str, letters: Sequence[DeadLetter], by: str, out: TextIO = sys.stdout
) -> int:
    """Publish each dead letter back to its original topic for its consumer group only."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        client_id="igny8-dlq-replay",
    )
    await producer.start()
    replayed = 0
    try:
        for letter in letters:
            target, group = letter.header("dlq-original-topic"), letter.header("dlq-consumer")
            if not target or not group:
                print(f"skipped {letter.coordinates}: not a dead letter of igny8", file=out)
                continue
            if "dlq-value-dropped" in letter.headers:
                print(f"skipped {letter.coordinates}: its value was too large to park", file=out)
                continue
            at = datetime.now(UTC).isoformat()
            headers = {k: v for k, v in letter.headers.items() if not k.startswith("dlq-")}
            headers.update(
                {REPLAY_FOR: group, REPLAY_BY: by, REPLAY_AT: at, REPLAY_OF: letter.coordinates}
            )
            sent = await producer.send_and_wait(
                target,
                letter.value,
                key=letter.key,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
            replayed += 1
            audit = {
                "event": "dead letter replayed",
                "by": by,
                "at": at,
                "dead_letter": letter.coordinates,
                "to": f"{target}:{sent.partition}:{sent.offset}",
                "for": group,
                "reason": letter.header("dlq-reason"),
            }
            print(json.dumps(audit), file=out, flush=True)
    finally:
        await producer.stop()
    return replayed


async def purge(bootstrap: str, topic: str, until: datetime | None) -> dict[int, int]:
    """Delete each partition's dead letters older than `until` (all when None); returns the new
    first offset per partition."""
    name = dlq_name(topic)
    parts = await _partitions(bootstrap, name)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
        before = dict(ends)
        if until is not None:
            found = await consumer.offsets_for_times(
                {p: int(until.timestamp() * 1000) for p in parts}
            )
            before = {p: (found[p].offset if found.get(p) else ends[p]) for p in parts}
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        marks = await admin.delete_records({p: RecordsToDelete(before[p]) for p in parts})
    finally:
        await admin.close()
    return {p.partition: low for p, low in marks.items()}


# -- command line -------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)([smhd])$")


def parse_time(text: str) -> datetime:
    """ISO 8601 (UTC when no offset is given) or an age such as 30m, 2h, 7d."""
    relative = _RELATIVE.match(text)
    if relative:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[relative[2]]
        return datetime.now(UTC) - timedelta(**{unit: int(relative[1])})
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_at(text: str) -> tuple[int, int]:
    partition, _, offset = text.partition(":")
    return int(partition), int(offset)


def register(sub: Any) -> None:
    """Add `dlq` and its subcommands to the `igny8` command's subparsers."""
    dlq = sub.add_parser("dlq", help="list, show, replay or purge dead letters")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)
    for name, help_text in (
        ("list", "list dead letters (newest last)"),
        ("show", "print dead letters in full: headers and value"),
        ("replay", "deliver dead letters again, to the consumer group that dead-lettered them"),
        ("purge", "delete dead letters older than --until (or --all)"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--topic", required=True, help="the original topic or its .dlq")
        command.add_argument(
            "--bootstrap",
            default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
            help="Kafka bootstrap servers (default $KAFKA_BOOTSTRAP_SERVERS)",
        )
        command.add_argument("--until", type=parse_time, help="older than (ISO time or 2h, 7d)")
        if name == "purge":
            command.add_argument("--all", action="store_true", help="every dead letter")
            continue
        command.add_argument("--since", type=parse_time, help="from (ISO time or 2h, 7d)")
        command.add_argument("--reason", help="undecodable | invalid | rejected_by_handler | …")
        command.add_argument("--key", help="the message key (an account or run id)")
        command.add_argument("--consumer", help="the consumer group that dead-lettered it")
        command.add_argument(
            "--at", type=parse_at, action="append", default=[], help="PARTITION:OFFSET (repeat)"
        )
        if name == "list":
            command.add_argument("--json", action="store_true", help="one JSON object per line")
        if name == "replay":
            command.add_argument("--all", action="store_true", help="replay every dead letter")
            command.add_argument("--dry-run", action="store_true", help="list, replay nothing")
            command.add_argument(
                "--by", default=_operator(), help="who replays (default user@host)"
            )


def _operator() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:
        return "unknown"


async def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    command = args.dlq_command
    if command == "purge":
        if args.until is None and not args.all:
            print("igny8 dlq purge: say --until TIME or --all", file=sys.stderr)
            return 2
        marks = await purge(args.bootstrap, args.topic, None if args.all else args.until)
        print(json.dumps({"event": "dead letters purged", "first_offsets": marks}), file=out)
        return 0
    filters = Filters(
        since=args.since,
        until=args.until,
        reason=args.reason,
        key=args.key,
        consumer=args.consumer,
        at=tuple(args.at),
    )
    if command == "replay" and filters.empty and not args.all:
        print("igny8 dlq replay: select dead letters (filters, --at) or say --all", file=sys.stderr)
        return 2
    letters = await read(args.bootstrap, args.topic, filters)
    if command == "list" or (command == "replay" and args.dry_run):
        for letter in letters:
            summary = letter.summary()
            if getattr(args, "json", False):
                print(json.dumps(summary), file=out)
            else:
                print(
                    f"{summary['at']:>10}  {summary['dead_lettered_at']}  {summary['reason']:<20}"
                    f"  {summary['consumer']:<24}  key={summary['key']}  {summary['original']}"
                    f"  {summary['error'][:100]}",
                    file=out,
                )
        print(f"{len(letters)} dead letter(s)", file=sys.stderr)
        return 0
    if command == "show":
        for letter in letters:
            try:
                value: Any = json.loads(letter.value)
            except ValueError:
                value = letter.value.decode(errors="replace")
            print(
                json.dumps(
                    {**letter.summary(), "headers": letter.headers, "value": value}, indent=2
                ),
                file=out,
            )
        return 0
    count = await replay(args.bootstrap, letters, args.by, out)
    print(f"{count} dead letter(s) replayed", file=sys.stderr)
    return 0
