"""Publishing to a real WordPress (Debian's packages on loopback): featured and inline images,
categories and tags, one post per article whatever happens — redelivery, a process SIGKILLed
between the remote create and the database commit — edits update the same post, and a post the
customer edited on WordPress is never overwritten."""

from __future__ import annotations

import base64
import json
import re
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from publishing_support import FakeCredentials

from igny8.net import GuardedHttp, UrlGuard
from igny8.testing import ChildProcess
from publishing.adapters.destinations import PlatformDestinations
from publishing.adapters.wordpress_rest import media_name
from publishing.app.publish import PublishPolicy, release_due
from publishing.domain.model import Status

pytestmark = pytest.mark.integration
CHILD = Path(__file__).resolve().parents[1] / "kill_after_create.py"


class WP:
    """The test's own view of the site, straight through the REST API."""

    def __init__(self, wordpress):
        token = base64.b64encode(
            f"{wordpress.admin_user}:{wordpress.app_password}".encode()
        ).decode()
        self.client = httpx.Client(
            base_url=f"{wordpress.url}/wp-json/",
            headers={"Authorization": f"Basic {token}"},
            timeout=30,
        )

    def posts(self, slug):
        answer = self.client.get(
            "wp/v2/posts", params={"slug": slug, "status": "any", "context": "edit"}
        )
        answer.raise_for_status()
        return answer.json()

    def get(self, path, **params):
        answer = self.client.get(path, params=params)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
def site_setup(driver, wordpress, tmp_path):
    async def make():
        account = uuid.uuid4()
        site = await driver.site(account)
        integration = await driver.integration(
            account,
            site,
            "wordpress",
            base_url=wordpress.url,
            settings={"categories": ["Garden care"]},
        )
        destinations = PlatformDestinations(
            GuardedHttp(UrlGuard(["127.0.0.0/8"]), timeout_s=60), tmp_path
        )
        publisher = driver.publisher(
            destinations, FakeCredentials({integration: wordpress.credentials})
        )
        return account, site, integration, publisher

    return make


async def run_once(driver, publisher, content, lease_s=300.0):
    ours = {p.publication_id for p in await driver.publications(content.content_id)}
    released = await release_due(
        driver.uow, driver.clock, PublishPolicy(lease_s=lease_s), batch=1000
    )
    return [await publisher.publish(r) for r in released if r in ours]


async def test_an_article_is_published_once_with_images_and_terms(driver, wordpress, site_setup):
    account, site, _, publisher = await site_setup()
    wp = WP(wordpress)
    content = driver.content(site, slug=f"compost-bins-{uuid.uuid4().hex[:6]}")
    envelope = await driver.ready(account, content)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]

    [post] = wp.posts(content.slug)
    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id == str(post["id"])
    assert publication.remote_url == post["link"]
    assert publication.remote_modified == post["modified_gmt"]
    assert post["status"] == "publish"
    assert post["title"]["raw"] == content.title
    assert post["excerpt"]["raw"] == content.meta_description
    # featured image uploaded with its alt text
    featured = wp.get(f"wp/v2/media/{post['featured_media']}")
    assert featured["alt_text"] == "compost bins in a garden"
    # the inline image is uploaded and the article points to the uploaded copy
    assert "/wp-content/uploads/" in post["content"]["raw"]
    assert "automation.test" not in post["content"]["raw"]
    assert 'alt="a heap"' in post["content"]["raw"]
    uploaded = httpx.get(featured["source_url"])
    assert uploaded.status_code == 200 and uploaded.content.startswith(b"\x89PNG")
    # terms were got-or-created
    tags = {t["name"] for t in (wp.get("wp/v2/tags", include=",".join(map(str, post["tags"]))))}
    assert tags == {"compost bins", "garden soil"}
    categories = {
        c["name"]
        for c in wp.get("wp/v2/categories", include=",".join(map(str, post["categories"])))
    }
    assert categories == {"Garden care"}

    # content.ready delivered again (a new envelope of the same version): still one post
    await driver.redeliver(envelope.model_copy(update={"id": uuid.uuid4()}))
    assert await run_once(driver, publisher, content) == []
    assert len(wp.posts(content.slug)) == 1

    # a second article of the same site reuses the existing terms (term_exists answers)
    second = driver.content(
        site, slug=f"leaf-mould-{uuid.uuid4().hex[:6]}", keyphrase="compost bins"
    )
    await driver.ready(account, second)
    assert await run_once(driver, publisher, second) == [Status.PUBLISHED]
    [other] = wp.posts(second.slug)
    assert set(other["tags"]) == set(post["tags"])
    assert other["categories"] == post["categories"]


async def test_an_edit_updates_the_same_post_and_a_customer_edit_is_not_clobbered(
    driver, wordpress, site_setup
):
    account, site, _, publisher = await site_setup()
    wp = WP(wordpress)
    content = driver.content(site, slug=f"raised-beds-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, content)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    [first] = wp.posts(content.slug)

    edited = driver.content(
        site, content.content_id, version=2, slug=content.slug, title="Raised beds, second edition"
    )
    await driver.ready(account, edited)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    [post] = wp.posts(content.slug)
    assert post["id"] == first["id"]
    assert post["title"]["raw"] == "Raised beds, second edition"
    [publication] = await driver.publications(content.content_id)
    assert publication.published_version == 2

    # the customer edits the post in WordPress (a second later, so `modified` moves)
    import asyncio

    await asyncio.sleep(1.1)
    customer = wp.client.post(f"wp/v2/posts/{post['id']}", json={"content": "<p>My own words.</p>"})
    customer.raise_for_status()
    await driver.ready(
        account, driver.content(site, content.content_id, version=3, slug=content.slug)
    )
    assert await run_once(driver, publisher, content) == [Status.FAILED]
    [post] = wp.posts(content.slug)
    assert post["content"]["raw"] == "<p>My own words.</p>"
    [publication] = await driver.publications(content.content_id)
    assert publication.last_error.startswith("remote_edited")


async def test_a_process_killed_between_create_and_commit_leaves_one_post(
    driver, wordpress, site_setup, publishing_db, tmp_path
):
    account, site, integration, publisher = await site_setup()
    wp = WP(wordpress)
    content = driver.content(site, slug=f"worm-farm-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, content)
    ours = {p.publication_id for p in await driver.publications(content.content_id)}
    released = [
        r
        for r in await release_due(driver.uow, driver.clock, PublishPolicy(), batch=1000)
        if r in ours
    ]
    [publication_id] = released
    child = ChildProcess(
        [
            sys.executable,
            str(CHILD),
            json.dumps(
                {
                    "database_url": publishing_db,
                    "static_root": str(tmp_path),
                    "publication_id": str(publication_id),
                    "integration_id": str(integration),
                    "credentials": wordpress.credentials,
                }
            ),
        ],
        tmp_path / "child.log",
    )
    child.proc.wait(120)
    assert child.proc.returncode == -9, child.output()
    assert "created " in child.output()
    [post] = wp.posts(content.slug)  # the create happened
    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id is None and publication.create_started_at is not None
    assert publication.status == Status.PUBLISHING

    # its lease runs out; another worker takes over, looks the post up first, updates it
    driver.clock.advance(seconds=301)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    posts = wp.posts(content.slug)
    assert [p["id"] for p in posts] == [post["id"]]
    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id == str(post["id"])


async def test_unpublish_then_republish_is_not_taken_for_a_customer_edit(
    driver, wordpress, site_setup
):
    from publishing.app.manage import approve, unpublish

    account, site, _, publisher = await site_setup()
    wp = WP(wordpress)
    content = driver.content(site, slug=f"herb-spiral-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, content)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    [publication] = await driver.publications(content.content_id)
    async with driver.uow() as uow:
        await unpublish(
            uow,
            account,
            site,
            publication.publication_id,
            "user:ann",
            driver.clock,
            publisher.destinations,
            publisher.credentials,
        )
        await uow.commit()
    [post] = wp.posts(content.slug)
    assert post["status"] == "draft"
    async with driver.uow() as uow:
        await approve(
            uow,
            account,
            site,
            publication.publication_id,
            "user:ann",
            driver.clock,
            reason="re-publish",
        )
        await uow.commit()
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    [again] = wp.posts(content.slug)
    assert again["id"] == post["id"] and again["status"] == "publish"
    events = [e["topic"] for e in await driver.events(site)]
    assert events.count("publication.unpublished") == 1
    assert events[-1] == "publication.completed"


async def test_a_retried_publish_and_a_republish_reuse_the_uploaded_images(
    driver, wordpress, site_setup, monkeypatch
):
    """A failure after the uploads (here: WordPress unavailable while the terms are made), then
    the retry: the images uploaded by the first attempt are found by their names and reused, not
    uploaded again; a re-publish of a new version reuses them too."""
    from publishing.adapters import wordpress_rest

    account, site, _, publisher = await site_setup()
    wp = WP(wordpress)
    content = driver.content(site, slug=f"worm-bins-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, content)
    term = wordpress_rest._Site.term
    failures = iter([True])

    async def flaky_term(self, taxonomy, name):
        if next(failures, False):
            from publishing.domain.errors import DestinationFailure

            raise DestinationFailure("unavailable", "HTTP 503 while making terms")
        return await term(self, taxonomy, name)

    monkeypatch.setattr(wordpress_rest._Site, "term", flaky_term)
    assert await run_once(driver, publisher, content) == [Status.SCHEDULED]  # to be retried
    [publication] = await driver.publications(content.content_id)
    names = [wordpress_rest.media_name(publication.slug, i.url) for i in content.images]

    def uploaded() -> list[dict]:
        return [m for n in names for m in wp.get("wp/v2/media", slug=n, context="edit")]

    first = uploaded()
    assert len(first) == 2, "the first attempt uploaded both images before it failed"
    driver.clock.advance(seconds=3600)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    assert [m["id"] for m in uploaded()] == [m["id"] for m in first], "reused, none added"
    [post] = wp.posts(content.slug)
    assert post["featured_media"] == first[0]["id"]
    assert first[1]["source_url"] in post["content"]["raw"]

    await driver.ready(
        account, driver.content(site, content.content_id, version=2, slug=content.slug)
    )
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    assert [m["id"] for m in uploaded()] == [m["id"] for m in first], "a re-publish reuses them"


class CountingHttp(GuardedHttp):
    """The destination's own client, recording what it sends to WordPress."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    async def request(self, method, url, **kwargs):
        route = httpx.URL(url).params.get("rest_route") or httpx.URL(url).path
        route = route.split("/wp-json/", 1)[-1]
        self.sent.append(f"{method} {re.sub(r'/[0-9]+', '/#', route)}")
        return await super().request(method, url, **kwargs)


async def test_a_sites_terms_are_made_once_and_a_deleted_one_is_made_again(
    driver, wordpress, tmp_path
):
    """Publishing's own requests: the second article of a site sends no term request (kept per
    site) and one request per image (the alt text goes with the upload); a category deleted on
    the site meanwhile is noticed in the post's answer, made again and set."""
    account = uuid.uuid4()
    site = await driver.site(account)
    category = f"Beds {uuid.uuid4().hex[:6]}"
    integration = await driver.integration(
        account, site, "wordpress", base_url=wordpress.url, settings={"categories": [category]}
    )
    http = CountingHttp(UrlGuard(["127.0.0.0/8"]), timeout_s=60)
    publisher = driver.publisher(
        PlatformDestinations(http, tmp_path), FakeCredentials({integration: wordpress.credentials})
    )
    wp = WP(wordpress)
    first = driver.content(site, slug=f"mulch-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, first)
    assert await run_once(driver, publisher, first) == [Status.PUBLISHED]
    [post] = wp.posts(first.slug)
    assert wp.get(f"wp/v2/media/{post['featured_media']}")["alt_text"] == "compost bins in a garden"

    http.sent.clear()
    second = driver.content(site, slug=f"mulch-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, second)
    assert await run_once(driver, publisher, second) == [Status.PUBLISHED]
    assert sorted(http.sent) == ["POST wp/v2/media", "POST wp/v2/media", "POST wp/v2/posts"]
    [other] = wp.posts(second.slug)
    assert other["categories"] == post["categories"] and set(other["tags"]) == set(post["tags"])
    [publication] = await driver.publications(second.content_id)
    [inline] = wp.get(
        "wp/v2/media", slug=media_name(publication.slug, second.images[1].url), context="edit"
    )
    assert inline["alt_text"] == "a heap" and inline["source_url"] in other["content"]["raw"]

    # the category is deleted on the site; the next article still gets it (made again)
    [old] = post["categories"]
    wp.client.delete(f"wp/v2/categories/{old}", params={"force": "true"}).raise_for_status()
    third = driver.content(site, slug=f"mulch-{uuid.uuid4().hex[:6]}")
    await driver.ready(account, third)
    assert await run_once(driver, publisher, third) == [Status.PUBLISHED]
    [last] = wp.posts(third.slug)
    names = {
        c["name"]
        for c in wp.get("wp/v2/categories", include=",".join(map(str, last["categories"])))
    }
    assert names == {category} and old not in last["categories"]
    [publication] = await driver.publications(third.content_id)
    assert publication.remote_modified == last["modified_gmt"], "the fix is our own last write"


@pytest.fixture
def yoast(wordpress):
    """Yoast's REST surface on the test WordPress for one test (a must-use plugin of the
    test's own: `yoast/v1` and the `_yoast_wpseo_*` post meta exposed to REST)."""
    plugins = Path(wordpress.state) / "wp-content" / "mu-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    plugin = plugins / "igny8-fake-yoast.php"
    plugin.write_text((Path(__file__).parent / "wordpress" / "fake_yoast.php").read_text())
    try:
        yield
    finally:
        plugin.unlink()


async def test_seo_title_and_description_go_through_yoast_when_the_site_has_it(
    driver, wordpress, site_setup, yoast
):
    account, site, _, publisher = await site_setup()
    wp = WP(wordpress)
    assert "yoast/v1" in wp.get("")["namespaces"]
    content = driver.content(site, slug=f"yoast-{uuid.uuid4().hex[:6]}", title="Leaf mould")
    await driver.ready(account, content)
    assert await run_once(driver, publisher, content) == [Status.PUBLISHED]
    [post] = wp.posts(content.slug)
    assert post["meta"]["_yoast_wpseo_title"] == content.meta_title
    assert post["meta"]["_yoast_wpseo_metadesc"] == content.meta_description
    assert post["meta"]["_yoast_wpseo_focuskw"] == "compost bins"
    assert post["excerpt"]["raw"] == content.meta_description  # the excerpt carries it too
