"""WordPress and Shopify clients against local servers speaking their documented shapes."""

from __future__ import annotations

import asyncio
import time

import pytest

from igny8.net import GuardedHttp, ResponseTooLarge, UrlGuard
from igny8.platforms import InventoryLimits, PlatformFailure, ShopifyClient, WordPressClient
from igny8.platforms.testing import (
    ShopifyState,
    SlowState,
    WordPressState,
    fake_recorder,
    fake_shopify,
    fake_slow_site,
    fake_wordpress,
)

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


SECRETS = {"Authorization": "Basic c2VjcmV0", "X-Shopify-Access-Token": "shpat_secret"}


def _secrets_in(headers: dict[str, str]) -> set[str]:
    return {k.lower() for k in headers} & {"authorization", "x-shopify-access-token"}


@pytest.mark.parametrize("status", [302, 307])
async def test_credentials_are_not_sent_after_a_scheme_downgrade(status):
    guarded = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5, verify=False)
    try:
        with (
            fake_recorder() as (plain, landed),
            fake_recorder({"/wp-json/": f"{plain}/wp-json/"}, status, tls=True) as (secure, first),
        ):
            answer = await guarded.request("GET", f"{secure}/wp-json/", headers=SECRETS)
    finally:
        await guarded.aclose()
    assert answer.status_code == 200
    assert _secrets_in(first[0].headers) == {"authorization", "x-shopify-access-token"}
    assert [r.path for r in landed] == ["/wp-json/"]
    assert _secrets_in(landed[0].headers) == set(), "secrets followed an https → http redirect"


async def test_credentials_are_not_sent_to_another_port_of_the_same_host(http):
    with (
        fake_recorder() as (other, landed),
        fake_recorder({"/x": f"{other}/x"}, 308) as (site, _),
    ):
        await http.request("POST", f"{site}/x", headers=SECRETS, content=b"body")
    assert landed[0].method == "POST"
    assert _secrets_in(landed[0].headers) == set()


async def test_credentials_follow_a_redirect_within_the_same_origin(http):
    with fake_recorder({"/old": "/new"}, 301) as (site, seen):
        await http.request("GET", f"{site}/old", headers=SECRETS)
    assert [r.path for r in seen] == ["/old", "/new"]
    assert _secrets_in(seen[1].headers) == {"authorization", "x-shopify-access-token"}


async def test_wordpress_credentials_never_go_to_a_rest_root_on_another_origin(http):
    with fake_recorder() as (elsewhere, seen):
        state = WordPressState(link_root=f"{elsewhere}/wp-json/")
        with fake_wordpress(state) as (url, _):
            result = await WordPressClient(http).test(url, GOOD_WP)
            items = await WordPressClient(http).inventory(url, GOOD_WP)
    assert all(_secrets_in(r.headers) == set() for r in seen), "credentials left the site"
    # the client falls back to the site's own REST root
    assert (result.success, result.reason) == (True, "ok")
    assert len([i for i in items if i.kind == "post"]) == 250


async def test_wordpress_request_is_authenticated_under_the_discovered_root(http):
    with fake_wordpress(WordPressState(posts=3)) as (url, _):
        client = WordPressClient(http)
        root = await client.discover(url)
        answer = await client.request("GET", root, GOOD_WP, "wp/v2/posts", {"per_page": 2})
        refused = await client.request("GET", root, {**GOOD_WP, "username": "x"}, "wp/v2/posts")
    assert answer.status_code == 200 and len(answer.json()) == 2
    assert refused.status_code == 401


async def test_wordpress_inventory_stops_at_the_page_limit():
    guarded = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5)
    try:
        with (
            fake_wordpress(WordPressState(posts=1_000_000, tags=0)) as (url, state),
            pytest.raises(PlatformFailure) as failure,
        ):
            await asyncio.wait_for(
                WordPressClient(guarded).inventory(url, GOOD_WP, InventoryLimits(max_pages=5)),
                30,
            )
    finally:
        await guarded.aclose()
    assert failure.value.reason == "too_large"
    assert sum("page=" in r for r in state.requests) <= 5


async def test_wordpress_inventory_stops_at_the_item_limit(http):
    with (
        fake_wordpress(WordPressState(posts=250)) as (url, _),
        pytest.raises(PlatformFailure) as failure,
    ):
        await WordPressClient(http).inventory(url, GOOD_WP, InventoryLimits(max_items=120))
    assert failure.value.reason == "too_large"


async def test_shopify_inventory_stops_at_the_page_limit(http):
    with (
        fake_shopify(ShopifyState(articles=1_000)) as (url, state),
        pytest.raises(PlatformFailure) as failure,
    ):
        await ShopifyClient(http).inventory(
            url, {"access_token": "shpat_good"}, InventoryLimits(max_pages=3)
        )
    assert failure.value.reason == "too_large"
    assert state.requests == 3


async def test_a_response_larger_than_the_limit_is_refused_unread():
    guarded = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5, max_response_bytes=100_000)
    try:
        with (
            fake_slow_site(SlowState(body_bytes=5_000_000)) as (url, _),
            pytest.raises(ResponseTooLarge),
        ):
            await guarded.request("GET", f"{url}/wp-json/")
        with fake_slow_site(SlowState(body_bytes=50_000)) as (url, _):
            assert len((await guarded.request("GET", f"{url}/")).content) == 50_000
    finally:
        await guarded.aclose()


async def test_a_site_dripping_bytes_forever_is_cut_off_by_the_total_deadline():
    guarded = GuardedHttp(UrlGuard(["127.0.0.1/32"]), timeout_s=5)
    try:
        with (
            fake_slow_site(SlowState(drip=True)) as (url, _),
            pytest.raises(PlatformFailure) as failure,
        ):
            await asyncio.wait_for(
                WordPressClient(guarded).inventory(url, GOOD_WP, InventoryLimits(max_seconds=1.5)),
                20,
            )
    finally:
        await guarded.aclose()
    assert failure.value.reason == "timeout"
