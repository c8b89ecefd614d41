from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import struct
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from automation.adapters.run_log_files import FileRunLog
from automation.adapters.sqlalchemy_tables import known_sites, runs
from automation.adapters.sqlalchemy_unit_of_work import AutomationUnitOfWork
from automation.app.run_engine import RunEngine
from automation.app.runs import start_run
from automation.bootstrap import SERVICE_ROOT
from automation.domain.ai import AIFunction, AIImage, AIResult, AIUsage
from automation.domain.config import AutomationConfig
from automation.entrypoints.events import credit_replies_subscription
from igny8.clock import SystemClock
from igny8.contracts import TOPICS, Envelope
from igny8.contracts import credits as wire
from igny8.db import create_engine, session_factory
from igny8.messaging.tables import outbox
from igny8.testing import migrated_database


@pytest.fixture(scope="session")
def automation_db(postgres_admin_url):
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "automation_test")


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\x10\x80\x10" * 2 + b"\x00" + b"\x10\x80\x10" * 2)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


class FakeAI:
    """A scripted provider that counts every call it answers, per function and per input."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.inputs: Counter[tuple[str, str]] = Counter()
        self.article_words = 300
        self.max_tokens: list[int] = []
        self.image_gate: asyncio.Event | None = None  # image calls wait for it (a slow provider)
        self.image_entered = asyncio.Event()

    def ensure_configured(self) -> None:
        return None

    def _usage(self) -> AIUsage:
        return AIUsage("fake", 10, 20, Decimal("0.0001"))

    async def complete(
        self,
        function: AIFunction,
        variables: dict[str, Any],
        data: dict[str, Any],
        max_output_tokens: int,
    ) -> AIResult:
        self.calls[function.value] += 1
        self.inputs[(function.value, repr(sorted(data.items())))] += 1
        if function is AIFunction.CLUSTER_KEYWORDS:
            words = data["keywords"]
            groups = [words[n : n + 3] for n in range(0, len(words), 3)]
            answer: dict[str, Any] = {
                "clusters": [
                    {"name": g[0], "description": "d", "primary_keyword": g[0], "keywords": g}
                    for g in groups
                ]
            }
        elif function is AIFunction.GENERATE_IDEAS:
            answer = {
                "ideas": [
                    {
                        "title": f"{data['cluster']['name']} idea {n}",
                        "brief": "b",
                        "outline": ["one", "two"],
                        "target_keywords": data["cluster"]["keywords"][:2],
                        "content_type": "post",
                        "structure": "guide",
                    }
                    for n in range(data["count"])
                ]
            }
        elif function is AIFunction.GENERATE_CONTENT:
            self.max_tokens.append(max_output_tokens)
            body = " ".join(["word"] * (self.article_words - 4))
            html = f"<h1>A title</h1><h2>First part</h2><p>{body}</p><h2>Second part</h2><p>end</p>"
            answer = {
                "title": data["idea"]["title"],
                "html": html,
                "meta_title": "m",
                "meta_description": "d",
                "slug": "a-title",
                "keywords": ["k"],
                "word_count": self.article_words,
            }
        else:
            answer = {
                "featured": {"prompt": f"{data['title']}: featured", "alt": "A garden"},
                "inline": [
                    {"prompt": f"{data['title']}: inline {n}", "alt": f"Inline picture {n + 1}"}
                    for n in range(data["inline_count"])
                ],
            }
        return AIResult(answer, self._usage(), "v1", 1)

    async def image(self, prompt: str, size: str) -> AIImage:
        self.calls["generate_image"] += 1
        self.inputs[("generate_image", prompt)] += 1
        self.image_entered.set()
        if self.image_gate is not None:
            await self.image_gate.wait()
        return AIImage(tiny_png(), self._usage(), 1)


class MemoryStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fail = False

    async def save(self, account_id: Any, site_id: Any, image_id: Any, png: bytes) -> str:
        if self.fail:
            raise OSError("the image store is unreachable")
        key = f"{account_id}/{site_id}/{image_id}.png"
        self.files[key] = png
        return key

    async def read(self, key: str) -> bytes:
        return self.files[key]


PRICES = {
    "clustering": wire.Price(unit="per_request", credits_per_unit=10, minimum_credits=10),
    "idea_generation": wire.Price(unit="per_item", credits_per_unit=2, minimum_credits=2),
    "content_generation": wire.Price(unit="per_100_words", credits_per_unit=1, minimum_credits=5),
    "image_prompt_extraction": wire.Price(unit="per_item", credits_per_unit=1, minimum_credits=1),
    "image_generation": wire.Price(unit="per_image", credits_per_unit=5, minimum_credits=5),
}


async def admit_now(unit_of_work: Any, run_id: uuid.UUID) -> None:
    """Give the queued run a slot at once (as a worker's fair admission does) with a lease that
    has already run out, so the engine under test takes it over."""
    async with unit_of_work() as uow:
        assert await uow.run_queue.admit(run_id, "admission", datetime.now(UTC), -1) is not None
        await uow.commit()


class Harness:
    """One tenant's run driven by a RunEngine on the real database, with billing and the image
    consumer played by a pump that reads the tenant's outbox rows and answers through the real
    credit-reply handler."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.engine = create_engine(url, 10)
        self.sessions = session_factory(self.engine)
        self.ai = FakeAI()
        self.storage = MemoryStorage()
        self.account, self.site = uuid.uuid4(), uuid.uuid4()
        self.run_engine = RunEngine(
            unit_of_work=self.uow,
            ai=self.ai,
            storage=self.storage,
            log=FileRunLog(tmp / "runs"),
            clock=SystemClock(),
            worker_id="worker-test",
            image_url=lambda image_id: f"http://automation/images/{image_id}",
            lease_ttl_s=5,
            reserve_wait_s=0.5,
            poll_s=0.02,
        )
        self.answer_reserves = True
        self.answer_commits = True
        self.pump_images = True
        self.sent: list[tuple[str, Envelope]] = []
        self._seen = 0
        self._done: set[int] = set()
        self._pump: asyncio.Task[None] | None = None
        self._images: set[asyncio.Task[Any]] = set()

    def uow(self) -> AutomationUnitOfWork:
        return AutomationUnitOfWork(self.sessions)

    async def add_site(self, config: dict[str, Any] | None = None) -> None:
        async with self.uow() as uow:
            await uow.session.execute(
                sa.insert(known_sites).values(
                    site_id=self.site,
                    account_id=self.account,
                    version=1,
                    deleted=False,
                    name="s",
                    url="https://s.example",
                )
            )
            if config is not None:
                await uow.sites.save_config(
                    self.account, self.site, AutomationConfig.model_validate(config)
                )
            await uow.commit()

    async def add_keywords(self, n: int) -> None:
        from automation.domain.keywords import KeywordRow

        async with self.uow() as uow:
            await uow.planner.add_keywords(
                self.account,
                self.site,
                [KeywordRow(keyword=f"keyword {k}") for k in range(n)],
            )
            await uow.commit()

    async def start(self, stages: list[int]) -> uuid.UUID:
        async with self.uow() as uow:
            run_id = await start_run(uow, self.account, self.site, stages)
            await uow.commit()
        await admit_now(self.uow, run_id)
        return run_id

    async def run(self, run_id: uuid.UUID) -> dict[str, Any]:
        async with self.uow() as uow:
            found = await uow.runs.run(run_id)
        assert found is not None
        return dataclasses.asdict(found)

    async def set_run(self, run_id: uuid.UUID, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(runs).where(runs.c.run_id == run_id).values(**values))

    async def drive_until(
        self, run_id: uuid.UUID, statuses: set[str], timeout: float = 20
    ) -> dict[str, Any]:
        """Drive as the worker's driver loop does (again after every return) until a status."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            run = await self.run(run_id)
            if run["status"] in statuses:
                return run
            if run["status"] == "queued":
                await admit_now(self.uow, run_id)
            await self.run_engine.drive(run_id)
            await asyncio.sleep(0.02)
        raise AssertionError(f"run stayed {(await self.run(run_id))['status']}")

    def topics(self, topic: str) -> list[Envelope]:
        return [e for t, e in self.sent if t == topic]

    # -- billing and the image consumer ----------------------------------------------------

    async def reply(self, topic: str, payload: Any, correlation_id: str | None = None) -> None:
        """As billing answers: with the request's correlation id (the run's, so its driver is
        woken by NOTIFY when it listens)."""
        envelope = TOPICS.envelope(
            topic,
            payload,
            source="billing",
            account_id=self.account,
            site_id=None,
            correlation_id=correlation_id,
        )
        handler = credit_replies_subscription().handler
        async with self.sessions() as session, session.begin():
            await handler(envelope, payload, session)

    async def answer(self, envelope: Envelope) -> None:
        payload = TOPICS.payload(envelope)
        if isinstance(payload, wire.ReserveCredits) and self.answer_reserves:
            credits = sum(
                max(
                    PRICES[i.operation].minimum_credits,
                    -(-i.quantity // (100 if i.operation == "content_generation" else 1))
                    * PRICES[i.operation].credits_per_unit,
                )
                for i in payload.items
                if i.quantity
            )
            await self.reply(
                "credit.reserved",
                wire.CreditsReserved(
                    reservation_id=payload.reservation_id,
                    credits=credits,
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                    available_after=1_000_000,
                    prices=PRICES,
                ),
                envelope.correlation_id,
            )
        elif isinstance(payload, wire.CommitCredits) and self.answer_commits:
            await self.reply(
                "credit.committed",
                wire.CreditsCommitted(
                    reservation_id=payload.reservation_id,
                    commit_id=payload.commit_id,
                    credits=1,
                    remaining_hold=0,
                    balance_after=0,
                ),
                envelope.correlation_id,
            )
        elif isinstance(payload, wire.ReleaseCredits):
            await self.reply(
                "credit.released",
                wire.CreditsReleased(
                    reservation_id=payload.reservation_id, released_credits=0, reason="released"
                ),
                envelope.correlation_id,
            )
        elif envelope.type == "image.generate" and self.pump_images:
            task = asyncio.create_task(
                self.run_engine.image_item(payload.run_id, payload.fencing_token, payload.prompt_id)
            )
            self._images.add(task)
            task.add_done_callback(self._images.discard)

    async def answer_pending(self, topic: str) -> None:
        """Answer what was sent on `topic` earlier and left unanswered."""
        answer_reserves, answer_commits = self.answer_reserves, self.answer_commits
        self.answer_reserves = self.answer_commits = True
        try:
            for envelope in self.topics(topic):
                await self.answer(envelope)
        finally:
            self.answer_reserves, self.answer_commits = answer_reserves, answer_commits

    async def pump_once(self) -> None:
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(outbox.c.id, outbox.c.topic, outbox.c.value)
                    # ids are taken at insert, rows appear at commit: with several writers a
                    # lower id can show up after a higher one, so look back a little
                    .where(outbox.c.id > self._seen - 500)
                    .order_by(outbox.c.id)
                )
            ).all()
        for row in rows:
            if row.id in self._done:
                continue
            envelope = TOPICS.decode(row.topic, row.value)
            if envelope.account_id == self.account:
                # answered before it counts as seen: a transient failure (a deadlock between
                # workers) is answered again on the next pass, as the real consumer retries
                await self.answer(envelope)
                self.sent.append((row.topic, envelope))
            self._done.add(row.id)
            self._seen = max(self._seen, row.id)

    async def _pump_forever(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.pump_once()
            await asyncio.sleep(0.02)

    def start_pump(self) -> None:
        self._pump = asyncio.create_task(self._pump_forever())

    async def close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for task in list(self._images):
            task.cancel()
        await asyncio.gather(*self._images, return_exceptions=True)
        await self.engine.dispose()


@pytest.fixture
async def harness(automation_db, tmp_path) -> AsyncIterator[Harness]:
    h = Harness(automation_db, tmp_path)
    h.start_pump()
    try:
        yield h
    finally:
        await h.close()


async def act(h: Harness, run_id: uuid.UUID, action: str) -> dict[str, Any]:
    """What POST /runs/{run_id}/{action} does."""
    from automation.app import runs as run_cases

    async with h.uow() as uow:
        run = await uow.runs.run(run_id, h.account)
        if action == "pause":
            result = await run_cases.pause_run(uow, h.account, run_id, SystemClock())
        elif action == "resume":
            result = await run_cases.resume_run(uow, h.account, run_id, SystemClock())
        else:
            result = await run_cases.cancel_run(uow, run, SystemClock(), "cancelled on request")
        await uow.commit()
    return dataclasses.asdict(result)


@pytest.fixture
def action():
    return act
