"""Shopify Admin GraphQL destination against a local GraphQL server of the test's own that checks
the mutations' shapes and answers userErrors, throttling and 5xx."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from igny8.net import GuardedHttp, UrlGuard
from igny8.platforms.testing import JsonHandler, serve
from publishing.adapters.destinations import PlatformDestinations
from publishing.app.publish import PublishPolicy, release_due
from publishing.domain.model import Status

pytestmark = pytest.mark.integration
CREATE_FIELDS = {
    "title",
    "handle",
    "body",
    "summary",
    "tags",
    "author",
    "isPublished",
    "metafields",
    "blogId",
    "image",
}


@dataclass
class Shop:
    token: str = "shpat_test"
    articles: dict[str, dict[str, Any]] = field(default_factory=dict)
    throttle_next: int = 0
    fail_next_5xx: int = 0
    user_error: str | None = None
    mutations: list[str] = field(default_factory=list)


def handler(shop: Shop) -> type:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            if self.headers.get("X-Shopify-Access-Token") != shop.token:
                return self._send(401, {"errors": "[API] Invalid API key or access token"})
            if not self.path.startswith("/admin/api/2025-01/graphql.json"):
                return self._send(404, {})
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            query, variables = request["query"], request.get("variables") or {}
            if shop.fail_next_5xx:
                shop.fail_next_5xx -= 1
                return self._send(503, {"errors": "unavailable"})
            if shop.throttle_next:
                shop.throttle_next -= 1
                return self._send(
                    200,
                    {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {
                            "cost": {
                                "throttleStatus": {
                                    "maximumAvailable": 1000,
                                    "currentlyAvailable": 99.9,
                                    "restoreRate": 1000,
                                }
                            }
                        },
                    },
                )
            if "blogs(first: 1)" in query:
                return self._send(
                    200, {"data": {"blogs": {"nodes": [{"id": "gid://shopify/Blog/1"}]}}}
                )
            if "articleCreate" in query:
                article = variables["article"]
                assert set(article) <= CREATE_FIELDS, set(article) - CREATE_FIELDS
                assert article["blogId"] == "gid://shopify/Blog/1"
                assert article["author"]["name"]
                assert {m["key"] for m in article["metafields"]} == {"title_tag", "description_tag"}
                shop.mutations.append("create")
                if shop.user_error:
                    return self._send(
                        200,
                        {
                            "data": {
                                "articleCreate": {
                                    "article": None,
                                    "userErrors": [
                                        {
                                            "code": shop.user_error,
                                            "field": ["article", "handle"],
                                            "message": "Handle has already been taken",
                                        }
                                    ],
                                }
                            }
                        },
                    )
                gid = f"gid://shopify/Article/{len(shop.articles) + 1}"
                shop.articles[gid] = {
                    "id": gid,
                    "title": article["title"],
                    "handle": article["handle"],
                    "updatedAt": f"2026-11-26T10:00:0{len(shop.articles)}Z",
                    "blog": {"handle": "news"},
                    "body": article["body"],
                }
                return self._send(
                    200,
                    {"data": {"articleCreate": {"article": shop.articles[gid], "userErrors": []}}},
                )
            if "articleUpdate" in query:
                shop.mutations.append("update")
                found = shop.articles[variables["id"]]
                found.update(
                    {
                        "title": variables["article"].get("title", found["title"]),
                        "updatedAt": "2026-11-26T11:00:00Z",
                    }
                )
                return self._send(
                    200, {"data": {"articleUpdate": {"article": found, "userErrors": []}}}
                )
            if "articleByHandle" in query:
                found = next(
                    (a for a in shop.articles.values() if a["handle"] == variables["handle"]), None
                )
                return self._send(200, {"data": {"blog": {"articleByHandle": found}}})
            if "article(id:" in query:
                return self._send(200, {"data": {"article": shop.articles.get(variables["id"])}})
            return self._send(200, {"errors": [{"message": f"unexpected query {query[:80]}"}]})

    return Handler


@pytest.fixture
def shop():
    state = Shop()
    with serve(handler(state)) as url:
        yield url, state


async def run_once(driver, publisher, content):
    ours = {p.publication_id for p in await driver.publications(content.content_id)}
    released = await release_due(driver.uow, driver.clock, PublishPolicy(), batch=1000)
    return [await publisher.publish(r) for r in released if r in ours]


async def test_articles_are_created_then_updated_never_duplicated(driver, shop, tmp_path):
    url, state = shop
    account = uuid.uuid4()
    site = await driver.site(account)
    integration = await driver.integration(account, site, "shopify", base_url=url, settings={})
    destinations = PlatformDestinations(GuardedHttp(UrlGuard(["127.0.0.0/8"])), tmp_path)
    from publishing_support import FakeCredentials

    credentials = FakeCredentials({integration: {"access_token": state.token}})
    publisher = driver.publisher(destinations, credentials)
    content = driver.content(site)
    state.throttle_next = 1  # waited out by the client
    await driver.ready(account, content)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id == "gid://shopify/Article/1"
    assert publication.remote_url.endswith(f"/blogs/news/{content.slug}")

    # a 5xx is retried later; an edit updates the same article
    await driver.ready(
        account, driver.content(site, content.content_id, version=2, slug=content.slug)
    )
    state.fail_next_5xx = 1
    assert await run_once(driver, publisher, content) == [Status.SCHEDULED]
    driver.clock.advance(seconds=30)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    assert state.mutations == ["create", "update"]
    assert len(state.articles) == 1

    # an article edited in Shopify is not overwritten
    state.articles["gid://shopify/Article/1"]["updatedAt"] = "2026-11-27T09:00:00Z"
    await driver.ready(
        account, driver.content(site, content.content_id, version=3, slug=content.slug)
    )
    assert await run_once(driver, publisher, content) == [Status.FAILED]
    assert state.mutations == ["create", "update"]


async def test_an_unknown_create_outcome_is_resolved_by_handle(driver, shop, tmp_path):
    url, state = shop
    account = uuid.uuid4()
    site = await driver.site(account)
    integration = await driver.integration(account, site, "shopify", base_url=url, settings={})
    destinations = PlatformDestinations(GuardedHttp(UrlGuard(["127.0.0.0/8"])), tmp_path)
    from publishing_support import FakeCredentials

    publisher = driver.publisher(
        destinations, FakeCredentials({integration: {"access_token": state.token}})
    )
    content = driver.content(site)
    await driver.ready(account, content)
    # the article exists remotely (a create whose answer was lost), we only know we started it
    state.articles["gid://shopify/Article/9"] = {
        "id": "gid://shopify/Article/9",
        "title": content.title,
        "handle": content.slug,
        "updatedAt": "2026-11-26T09:00:00Z",
        "blog": {"handle": "news"},
        "body": "",
    }
    [publication] = await driver.publications(content.content_id)
    await publisher._create_started(publication.publication_id)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    assert state.mutations == ["update"]
    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id == "gid://shopify/Article/9"


async def test_user_errors_are_typed_permanent_failures(driver, shop, tmp_path):
    url, state = shop
    account = uuid.uuid4()
    site = await driver.site(account)
    integration = await driver.integration(account, site, "shopify", base_url=url, settings={})
    destinations = PlatformDestinations(GuardedHttp(UrlGuard(["127.0.0.0/8"])), tmp_path)
    from publishing_support import FakeCredentials

    state.user_error = "TAKEN"
    publisher = driver.publisher(
        destinations, FakeCredentials({integration: {"access_token": state.token}})
    )
    content = driver.content(site)
    await driver.ready(account, content)
    assert await run_once(driver, publisher, content) == [Status.FAILED]
    [publication] = await driver.publications(content.content_id)
    assert publication.last_error.startswith("user_error:taken")
    # a wrong token is a permanent failure too, never retried
    other = driver.content(site)
    await driver.ready(account, other)
    bad = driver.publisher(destinations, FakeCredentials({integration: {"access_token": "nope"}}))
    assert await run_once(driver, bad, other) == [Status.FAILED]
    [p] = await driver.publications(other.content_id)
    assert p.last_error.startswith("bad_credentials")
