"""Publishing throughput to a real local WordPress, beside the ceiling measured in the same run.

- service: articles (a featured and an inline image, a category, two tags) go through publishing's
  own path — content.ready handler (canonicalize, link, analyze, approve, schedule) → the
  service's scheduler (its periodic job woken by the NOTIFY of a scheduled publication) → publisher (credentials, images, WordPress REST with the idempotency bookkeeping) —
  against a private WordPress (infra/wordpress.py), with the service's per-destination concurrency;
- ceiling: the same posts (same images, same terms) created by a plain script straight through
  the WordPress REST API with the same concurrency;
- the analyzer alone: articles per second on one core.
Prints JSON. Needs `make infra-up` (PostgreSQL) and installs WordPress's packages when missing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import importlib.util
import json
import os
import pstats
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import httpx

from igny8.contracts import TOPICS
from igny8.contracts.runs import ContentImage, ContentReady
from igny8.contracts.sites import IntegrationSnapshot, SiteSnapshot
from igny8.db import create_engine, migrations, session_factory
from igny8.net import GuardedHttp, UrlGuard
from igny8.periodic import periodic_job
from igny8.testing import create_database, drop_database
from publishing.adapters.destinations import PlatformDestinations
from publishing.adapters.internal_http import KeptCredentials
from publishing.adapters.postgres_wakeups import PostgresWakeups
from publishing.adapters.sqlalchemy_unit_of_work import PublishingUnitOfWork
from publishing.app.publish import Publisher, PublishPolicy
from publishing.bootstrap import SERVICE_ROOT
from publishing.config import PublishingSettings
from publishing.domain.analyzer import ArticleInput, analyze
from publishing.domain.settings import SiteSettings
from publishing.entrypoints.events import content_subscription, entity_subscription
from publishing.entrypoints.timers import scheduler_pass

ROOT = Path(__file__).resolve().parents[1]
PHASES: dict[str, float] = {}
# WordPress requests by kind on each side ("POST wp/v2/media", "GET wp/v2/posts", ...): a
# count per article does not depend on the machine's load, unlike the rates
REQUESTS: dict[str, dict[str, int]] = {
    "service": {},
    "direct": {},
    "direct_lean": {},
    "internal": {},
}


def request_kind(method: str, url: httpx.URL) -> str:
    route = url.params.get("rest_route") or url.path
    route = route.split("/wp-json/", 1)[-1].lstrip("/")
    return f"{method} {re.sub(r'/[0-9]+', '/<id>', route) or '/'}"


def count(side: str, kind: str) -> None:
    REQUESTS[side][kind] = REQUESTS[side].get(kind, 0) + 1


class CountingHttp(GuardedHttp):
    """The service's own guarded client, counting what it sends to WordPress."""

    async def request(self, method: str, url: str, **kwargs):
        count("service", request_kind(method, httpx.URL(url)))
        return await super().request(method, url, **kwargs)


def per_article(side: str, n: int) -> dict[str, float]:
    found = {k: round(v / n, 2) for k, v in sorted(REQUESTS[side].items())}
    found["total"] = round(sum(REQUESTS[side].values()) / n, 2)
    return found


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
SENTENCES = [
    "Compost bins turn kitchen scraps into rich soil for the garden.",
    "You can start with a simple box made from old pallets.",
    "Add green waste and brown waste in equal parts and keep the heap moist.",
    "Turn the pile every week so air reaches the middle of it.",
    "Mulch and leaf mould help the soil hold water through the summer.",
]


def html(n: int) -> str:
    body = " ".join(SENTENCES)
    sections = "".join(
        f"<h2>Compost bins, part {i}</h2><p>{body} {body}</p><p>{body}</p>" for i in range(n)
    )
    return f"<p>Compost bins are simple. {body}</p>{sections}"


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Credentials:
    def __init__(self, secret: dict[str, str]) -> None:
        self.secret = secret

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        # integration's internal endpoint in the service: an HTTP call per ask (counted)
        count("internal", "credentials")
        return self.secret

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        return False


class Images:
    async def fetch(self, account_id: uuid.UUID, url: str) -> tuple[bytes, str]:
        count("internal", "images")
        return PNG, "image/png"


def analyzer_rate(seconds: float = 3.0) -> dict[str, float]:
    article = ArticleInput("compost bins", "Compost bins guide", "compost-bins", "m" * 130, html(6))
    analyze(article)
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        analyze(article)
        count += 1
    elapsed = time.perf_counter() - began
    words = len(" ".join(SENTENCES).split()) * 19
    return {"articles_per_s": round(count / elapsed, 1), "words_per_article": words}


async def through_service(wp, admin_url: str, n: int, concurrency: int, inbound: str) -> float:
    url = await create_database(admin_url, "publishing_bench")
    try:
        await asyncio.to_thread(migrations.upgrade, SERVICE_ROOT, url)
        engine = create_engine(url, 10)
        sessions = session_factory(engine)
        clock = Clock()
        entities, content = entity_subscription(clock), content_subscription(clock)
        account, site, integration = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

        async def deliver(subscription, topic, payload, source="integration"):
            envelope = TOPICS.envelope(
                topic, payload, source=source, account_id=account, site_id=site
            )
            async with sessions() as session, session.begin():
                await subscription.handler(envelope, payload, session)

        await deliver(
            entities,
            "site.created",
            SiteSnapshot(site_id=site, account_id=account, version=1, name="Bench", url=wp.url),
        )
        await deliver(
            entities,
            "integration.connected",
            IntegrationSnapshot(
                integration_id=integration,
                site_id=site,
                account_id=account,
                version=1,
                platform="wordpress",
                base_url=wp.url,
                settings={"categories": ["Bench"]},
            ),
        )
        async with PublishingUnitOfWork(sessions) as uow:
            await uow.settings.put(account, site, SiteSettings(linking={"inbound": inbound}))
            await uow.commit()
        publisher = Publisher(
            uow_factory=lambda: PublishingUnitOfWork(sessions),
            destinations=PlatformDestinations(
                CountingHttp(UrlGuard(["127.0.0.0/8"]), 60), Path(tempfile.gettempdir())
            ),
            # kept between publishes as the service keeps them (bootstrap)
            credentials=KeptCredentials(
                Credentials(wp.credentials),
                PublishingSettings.model_fields["credentials_ttl_s"].default,
            ),
            images=Images(),
            clock=clock,
            policy=PublishPolicy(),
        )
        # how long inbound link proposals take, in total (the scheduler runs them for what was
        # published meanwhile while the destination's slots stay busy)
        propose = publisher.propose_inbound
        PHASES["inbound_proposals_s"] = 0.0
        published = 0
        all_published = asyncio.Event()

        async def timed_propose(items):
            nonlocal published
            started = time.perf_counter()
            try:
                await propose(items)
            finally:
                PHASES["inbound_proposals_s"] += time.perf_counter() - started
                published += len(items)
                if published >= n:
                    all_published.set()

        publisher.propose_inbound = timed_propose
        # As in the service, articles arrive (the content.ready consumer) while the scheduler
        # publishes the ones already scheduled: the two run side by side.
        received = 0.0

        async def arrive() -> None:
            nonlocal received
            for i in range(n):
                content_id = uuid.uuid4()
                await deliver(
                    content,
                    "content.ready",
                    ContentReady(
                        content_id=content_id,
                        site_id=site,
                        run_id=None,
                        title=f"Compost bins {i}",
                        html=html(3),
                        meta_title=f"Compost bins {i}",
                        meta_description="m" * 130,
                        slug=f"svc-compost-bins-{i}-{content_id.hex[:6]}",
                        keywords=["compost bins", "garden soil"],
                        images=[
                            ContentImage(
                                url=f"http://automation/images/{i}-f",
                                alt="compost bins",
                                kind="featured",
                            ),
                            ContentImage(
                                url=f"http://automation/images/{i}-1", alt="a heap", kind="inline"
                            ),
                        ],
                        auto_publish=True,
                    ),
                    source="automation",
                )
            received = time.perf_counter() - began

        # the service's own scheduler: its periodic job (tick as configured), woken by the
        # NOTIFY of each publication scheduled, publishing with the per-destination limit
        wakeups = PostgresWakeups(url)
        stop = asyncio.Event()
        listening = asyncio.create_task(wakeups.run(stop))
        await asyncio.sleep(0.2)  # listening before the first article arrives
        scheduler = periodic_job(
            "publishing.scheduler",
            PublishingSettings.model_fields["scheduler_tick_s"].default,
            scheduler_pass(publisher, concurrency, again=wakeups.due),
            wakeup=wakeups.due,
        )
        began = time.perf_counter()
        running = asyncio.create_task(scheduler(stop))
        arriving = asyncio.create_task(arrive())
        await asyncio.wait_for(all_published.wait(), 600)  # a failed publish would never end it
        elapsed = time.perf_counter() - began
        stop.set()
        await asyncio.gather(arriving, running, listening)
        await engine.dispose()
        PHASES["content_ready_handling_s"] = round(received, 2)
        PHASES["until_all_published_s"] = round(elapsed, 2)
        PHASES["inbound_proposals_s"] = round(PHASES["inbound_proposals_s"], 2)
        return n / elapsed * 60
    finally:
        await drop_database(admin_url, url)


async def direct(
    wp, n: int, concurrency: int, counted: str | None = None, lean: bool = False
) -> float:
    """The plain script: per article two uploads, each with its alt text written after it,
    three term get-or-creates and the post. `lean`: the fewest requests the same posts need
    (the alt text in the upload's query, the three terms made once per run) — the ceiling for
    a path with no overhead at all, beside the plain one the goal is set against."""
    token = base64.b64encode(f"{wp.admin_user}:{wp.app_password}".encode()).decode()
    terms: dict[tuple[str, str], int] = {}

    async def counter(request: httpx.Request) -> None:
        if counted:
            count(counted, request_kind(request.method, request.url))

    async with httpx.AsyncClient(
        base_url=f"{wp.url}/wp-json/",
        timeout=60,
        headers={"Authorization": f"Basic {token}"},
        event_hooks={"request": [counter]},
    ) as client:

        async def term(taxonomy, name):
            if lean and (taxonomy, name) in terms:
                return terms[(taxonomy, name)]
            answer = await client.post(f"wp/v2/{taxonomy}", json={"name": name})
            body = answer.json()
            terms[(taxonomy, name)] = (
                body["data"]["term_id"] if answer.status_code == 400 else body["id"]
            )
            return terms[(taxonomy, name)]

        async def media(name, alt):
            answer = await client.post(
                "wp/v2/media",
                params={"alt_text": alt} if lean else None,
                content=PNG,
                headers={
                    "Content-Type": "image/png",
                    "Content-Disposition": f'attachment; filename="{name}"',
                },
            )
            item = answer.json()
            if answer.status_code != 201 or "id" not in item:
                raise RuntimeError(f"upload refused: {answer.status_code} {answer.text[:500]}")
            if not lean:
                await client.post(f"wp/v2/media/{item['id']}", json={"alt_text": alt})
            return item

        gate = asyncio.Semaphore(concurrency)

        async def one(i):
            async with gate:
                featured = await media(f"direct-{i}-f.png", "compost bins")
                inline = await media(f"direct-{i}-1.png", "a heap")
                body = html(3) + f'<figure><img src="{inline["source_url"]}" alt="a heap"></figure>'
                answer = await client.post(
                    "wp/v2/posts",
                    json={
                        "title": f"Compost bins {i}",
                        "content": body,
                        "status": "publish",
                        "slug": f"direct-compost-bins-{i}-{uuid.uuid4().hex[:6]}",
                        "excerpt": "m" * 130,
                        "categories": [await term("categories", "Bench")],
                        "tags": [
                            await term("tags", "compost bins"),
                            await term("tags", "garden soil"),
                        ],
                        "featured_media": featured["id"],
                    },
                )
                answer.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - began) * 60


def load_wordpress():
    spec = importlib.util.spec_from_file_location(
        "infra_wordpress", ROOT / "infra" / "wordpress.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def main(n: int, concurrency: int, inbound: str, profile: str | None = None) -> None:
    admin_url = os.environ["IGNY8_POSTGRES_ADMIN_URL"]
    result: dict[str, object] = {
        "load_average_at_start": os.getloadavg(),
        "articles": n,
        "concurrency": concurrency,
        "analyzer": analyzer_rate(),
    }
    infra = load_wordpress()
    instance = infra.LocalWordPress(Path(tempfile.mkdtemp(prefix="igny8-bench-wp-")))
    wp = instance.up()
    try:
        # warm-up (PHP opcache, the uploads folder of the month), one at a time: two first
        # uploads at once on a fresh site have been seen to fail
        await direct(wp, 2, 1)
        # the ceiling is measured before and after the service (their mean): on a shared machine
        # the load moves during a run, and one side measured alone would be favoured or not
        before = await direct(wp, n, concurrency, counted="direct")
        lean_before = await direct(wp, n, concurrency, counted="direct_lean", lean=True)
        profiler = cProfile.Profile(time.process_time) if profile else None
        if profiler is not None:  # CPU time of the service's path only (this process)
            profiler.enable()
        service = await through_service(wp, admin_url, n, concurrency, inbound)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(45)
        after = await direct(wp, n, concurrency)
        lean_after = await direct(wp, n, concurrency, lean=True)
        ceiling = (before + after) / 2
        lean_ceiling = (lean_before + lean_after) / 2
    finally:
        instance.down()
    result.update(
        {
            "direct_articles_per_min": round(ceiling, 1),
            "direct_before_and_after": [round(before, 1), round(after, 1)],
            "service_articles_per_min": round(service, 1),
            "ratio_to_ceiling": round(service / ceiling, 2),
            # the same posts in the fewest requests: what the service's own overhead costs
            "direct_lean_articles_per_min": round(lean_ceiling, 1),
            "direct_lean_before_and_after": [round(lean_before, 1), round(lean_after, 1)],
            "ratio_to_lean_ceiling": round(service / lean_ceiling, 2),
            "service_phases": PHASES,
            "wordpress_requests_per_article": {
                "service": per_article("service", n),
                "direct": per_article("direct", n),
                "direct_lean": per_article("direct_lean", n),
            },
            "service_internal_asks_per_article": per_article("internal", n),
            "inbound": inbound,
            "load_average_at_end": os.getloadavg(),
            "goal": ">= 0.8 of the ceiling (the plain script); analyzer >= 200 articles/s",
        }
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--inbound", choices=["off", "suggest", "auto"], default="suggest")
    parser.add_argument(
        "--profile", help="write the service path's cProfile stats (CPU time) here; top to stderr"
    )
    args = parser.parse_args()
    asyncio.run(main(args.articles, args.concurrency, args.inbound, args.profile))
