"""WordPress and Shopify clients against local servers speaking their documented shapes."""

from __future__ import annotations

import time

import pytest

from igny8.net import GuardedHttp, UrlGuard
from igny8.platforms import PlatformFailure, ShopifyClient, WordPressClient
from igny8.platforms.testing import ShopifyState, WordPressState, fake_shopify, fake_wordpress

GOOD_WP = {"username": "editor", "application_password": "good pass"}


@pytest.fixture
async def http():
    client = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5)
    yield client
    await client.aclose()


async def test_wordpress_connection_succeeds_with_a_publishing_user(http):
    with fake_wordpress() as (url, _):
        result = await WordPressClient(http).test(url, GOOD_WP)
    assert (result.success, result.reason) == (True, "ok")


@pytest.mark.parametrize(
    ("state", "credentials", "reason"),
    [
        (
            WordPressState(),
            {"username": "editor", "application_password": "wrong"},
            "bad_credentials",
        ),
        (WordPressState(users={"editor": ("good pass", False)}), GOOD_WP, "missing_permissions"),
        (WordPressState(app_passwords=False), GOOD_WP, "application_passwords_disabled"),
        (WordPressState(rest_api=False), GOOD_WP, "no_rest_api"),
    ],
)
async def test_wordpress_failures_have_distinct_reasons(http, state, credentials, reason):
    with fake_wordpress(state) as (url, _):
        result = await WordPressClient(http).test(url, credentials)
    assert (result.success, result.reason) == (False, reason)


async def test_wordpress_unreachable_and_blocked_hosts_are_reasons_not_errors(http):
    unreachable = await WordPressClient(http).test("http://127.0.0.1:9", GOOD_WP)
    assert (unreachable.success, unreachable.reason) == (False, "unreachable")
    guarded = GuardedHttp(UrlGuard(), timeout_s=2)
    blocked = await WordPressClient(guarded).test("http://127.0.0.1:9", GOOD_WP)
    await guarded.aclose()
    assert (blocked.success, blocked.reason) == (False, "blocked_url")


async def test_wordpress_inventory_paginates_and_honours_retry_after(http):
    state = WordPressState(posts=250, tags=120, throttle_once={"wp/v2/posts?page=2"})
    with fake_wordpress(state) as (url, _):
        started = time.monotonic()
        items = await WordPressClient(http).inventory(url, GOOD_WP)
        waited = time.monotonic() - started
    kinds = [i.kind for i in items]
    assert (kinds.count("post"), kinds.count("tag"), kinds.count("category")) == (250, 120, 3)
    assert len({i.remote_id for i in items if i.kind == "post"}) == 250
    assert waited >= 1.0, "the 429's Retry-After was honoured"
    assert (
        sum("wp/v2/posts" in r or "wp%2Fv2%2Fposts" in r for r in state.requests) == 4
    )  # 3 pages + retry
    post = next(i for i in items if i.kind == "post" and i.remote_id == "1")
    assert (post.title, post.excerpt) == ("Post 1", "About 1")


async def test_wordpress_plain_permalinks_use_rest_route(http):
    with fake_wordpress(WordPressState(plain_permalinks=True, posts=5)) as (url, state):
        items = await WordPressClient(http).inventory(url, GOOD_WP)
    assert len([i for i in items if i.kind == "post"]) == 5
    assert any("rest_route=" in r for r in state.requests)


async def test_shopify_connection_checks_the_article_scope(http):
    with fake_shopify() as (url, _):
        ok = await ShopifyClient(http).test(url, {"access_token": "shpat_good"})
        bad = await ShopifyClient(http).test(url, {"access_token": "nope"})
    assert (ok.success, ok.reason) == (True, "ok")
    assert (bad.success, bad.reason) == (False, "bad_credentials")
    with fake_shopify(ShopifyState(tokens={"shpat_ro": ["read_content"]})) as (url, _):
        read_only = await ShopifyClient(http).test(url, {"access_token": "shpat_ro"})
    assert (read_only.success, read_only.reason) == (False, "missing_permissions")


async def test_shopify_inventory_pages_through_articles_and_waits_out_throttling(http):
    state = ShopifyState(articles=150, throttle_once=True, http_429_once=True)
    with fake_shopify(state) as (url, _):
        items = await ShopifyClient(http).inventory(url, {"access_token": "shpat_good"})
    assert len(items) == 150
    assert items[0].url.endswith("/blogs/news/article-1")
    assert state.requests == 4  # 429, THROTTLED, page 1, page 2


async def test_shopify_missing_admin_api_is_a_typed_failure(http):
    with fake_wordpress() as (url, _), pytest.raises(PlatformFailure):
        await ShopifyClient(http).inventory(url, {"access_token": "shpat_good"})
