"""Test drivers for publishing: feed snapshots and articles through the real handlers and the
real database, with a controllable clock and test doubles for the outside HTTP sources."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from igny8.contracts import TOPICS, Envelope
from igny8.contracts.publications import InventoryItemSnapshot
from igny8.contracts.runs import ContentImage, ContentReady
from igny8.contracts.sites import IntegrationSnapshot, SiteSnapshot
from igny8.db import session_factory
from igny8.messaging import outbox
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app.publish import Publisher, PublishPolicy
from publishing.entrypoints.events import content_subscription, entity_subscription

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
PARAGRAPHS = [
    "Compost bins turn kitchen scraps into rich soil for the garden.",
    "You can start with a simple box made from old pallets.",
    "Add green waste and brown waste in equal parts and keep the heap moist.",
    "Turn the pile every week so air reaches the middle of it.",
    "Mulch and leaf mould help the soil hold water through the summer.",
]


def article_html(keyphrase: str = "compost bins") -> str:
    body = " ".join(PARAGRAPHS)
    return (
        f"<p>{keyphrase.capitalize()} are simple. {body}</p>"
        f"<h2>Why {keyphrase} work</h2><p>{body} {body}</p>"
        f"<h2>Soil and mulch</h2><p>{body}</p><ul><li>Use mulch in dry weeks.</li></ul>"
        f"<h2>Filling {keyphrase}</h2><p>{body} {body}</p>"
    )


class FakeClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.at = now or datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


@dataclass
class FakeCredentials:
    secrets: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    asked: list[uuid.UUID] = field(default_factory=list)

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        self.asked.append(integration_id)
        return self.secrets.get(integration_id, {})

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        return False  # nothing kept: each call asks


@dataclass
class FakeImages:
    fetched: list[str] = field(default_factory=list)

    async def fetch(self, account_id: uuid.UUID, url: str) -> tuple[bytes, str]:
        self.fetched.append(url)
        return PNG, "image/png"


class Driver:
    """Feeds the service's own Kafka handlers inside database transactions, as its consumer
    does, and reads what it did."""

    def __init__(self, engine: AsyncEngine, clock: FakeClock) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)
        self.clock = clock
        self._entities = entity_subscription(clock)
        self._content = content_subscription(clock)
        self.versions: dict[Any, int] = {}

    def uow(self) -> PublishingUnitOfWork:
        return PublishingUnitOfWork(self.sessions)

    def publisher(
        self, destinations: Any, credentials: Any = None, images: Any = None, **policy: Any
    ) -> Publisher:
        return Publisher(
            uow_factory=self.uow,
            destinations=destinations,
            credentials=credentials or FakeCredentials(),
            images=images or FakeImages(),
            clock=self.clock,
            policy=PublishPolicy(**policy),
        )

    async def deliver(
        self,
        topic: str,
        payload: Any,
        account_id: uuid.UUID,
        site_id: uuid.UUID | None = None,
        source: str = "integration",
    ) -> Envelope:
        envelope = TOPICS.envelope(
            topic, payload, source=source, account_id=account_id, site_id=site_id
        )
        await self.redeliver(envelope)
        return envelope

    async def redeliver(self, envelope: Envelope) -> None:
        subscription = self._content if envelope.type == "content.ready" else self._entities
        async with self.sessions() as session, session.begin():
            await subscription.handler(envelope, TOPICS.payload(envelope), session)

    def _version(self, key: Any) -> int:
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    async def site(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID | None = None,
        *,
        deleted: bool = False,
        timezone: str = "UTC",
    ) -> uuid.UUID:
        site_id = site_id or uuid.uuid4()
        await self.deliver(
            "site.deleted" if deleted else "site.created",
            SiteSnapshot(
                site_id=site_id,
                account_id=account_id,
                version=self._version(site_id),
                deleted=deleted,
                name="Garden",
                url="https://garden.example.com",
                timezone=timezone,
            ),
            account_id,
            site_id,
        )
        return site_id

    async def integration(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        platform: str = "static",
        *,
        integration_id: uuid.UUID | None = None,
        settings: dict[str, Any] | None = None,
        base_url: str = "",
        deleted: bool = False,
        is_active: bool = True,
    ) -> uuid.UUID:
        integration_id = integration_id or uuid.uuid4()
        await self.deliver(
            "integration.removed" if deleted else "integration.connected",
            IntegrationSnapshot(
                integration_id=integration_id,
                site_id=site_id,
                account_id=account_id,
                version=self._version(integration_id),
                deleted=deleted,
                platform=platform,
                base_url=base_url or "https://garden.example.com",
                settings=settings
                if settings is not None
                else {"folder": f"f-{integration_id.hex[:8]}"},
                is_active=is_active,
                has_credentials=platform != "static",
            ),
            account_id,
            site_id,
        )
        return integration_id

    async def inventory(
        self,
        account_id: uuid.UUID,
        site_id: uuid.UUID,
        integration_id: uuid.UUID,
        remote_id: str,
        title: str,
        url: str,
        excerpt: str = "",
        *,
        deleted: bool = False,
        version: int = 1,
    ) -> None:
        await self.deliver(
            "inventory.item",
            InventoryItemSnapshot(
                item_id=InventoryItemSnapshot.key_for(integration_id, "post", remote_id),
                integration_id=integration_id,
                site_id=site_id,
                account_id=account_id,
                version=version,
                deleted=deleted,
                kind="post",
                remote_id=remote_id,
                title=title,
                url=url,
                excerpt=excerpt,
            ),
            account_id,
            site_id,
        )

    def content(
        self,
        site_id: uuid.UUID,
        content_id: uuid.UUID | None = None,
        *,
        version: int = 1,
        auto_publish: bool = True,
        keyphrase: str = "compost bins",
        title: str | None = None,
        slug: str | None = None,
        images: bool = True,
    ) -> ContentReady:
        content_id = content_id or uuid.uuid4()
        return ContentReady(
            content_id=content_id,
            site_id=site_id,
            run_id=None,
            title=title or f"{keyphrase.capitalize()} for small gardens",
            html=article_html(keyphrase),
            meta_title=title or f"{keyphrase.capitalize()} for small gardens",
            meta_description=(
                f"{keyphrase.capitalize()} turn scraps into soil. How to build one, fill it and "
                "turn it, and what to keep out of it, step by step."
            ),
            slug=slug or f"{keyphrase.replace(' ', '-')}-{content_id.hex[:6]}",
            keywords=[keyphrase, "garden soil"],
            images=[
                ContentImage(
                    url=f"http://automation.test/images/{content_id}-f",
                    alt=f"{keyphrase} in a garden",
                    kind="featured",
                ),
                ContentImage(
                    url=f"http://automation.test/images/{content_id}-1", alt="a heap", kind="inline"
                ),
            ]
            if images
            else [],
            auto_publish=auto_publish,
            version=version,
        )

    async def ready(self, account_id: uuid.UUID, content: ContentReady) -> Envelope:
        return await self.deliver(
            "content.ready", content, account_id, content.site_id, source="automation"
        )

    async def publications(self, content_id: uuid.UUID) -> list[Any]:
        async with self.uow() as uow:
            return await uow.publications.for_article(content_id)

    async def events(
        self, site_id: uuid.UUID, topic_prefix: str = "publication."
    ) -> list[dict[str, Any]]:
        import json

        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(outbox.c.topic, outbox.c.value)
                .where(outbox.c.topic.like(f"{topic_prefix}%"))
                .order_by(outbox.c.id)
            )
            found = [{"topic": r.topic, **json.loads(r.value)} for r in rows]
        return [e for e in found if e["site_id"] == str(site_id)]
