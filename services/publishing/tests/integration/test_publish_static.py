"""Publishing through the static export destination with the real publisher: Markdown with front
matter and images beside it, inside the integration's folder only; idempotent; a file edited by
someone else is never overwritten; failures retried with backoff or failed for good."""

from __future__ import annotations

import uuid

import pytest
import yaml

from igny8.net import GuardedHttp, UrlGuard
from publishing.adapters.destinations import PlatformDestinations
from publishing.app.publish import PublishPolicy, release_due
from publishing.domain.errors import DestinationFailure
from publishing.domain.model import Status

pytestmark = pytest.mark.integration


@pytest.fixture
def destinations(tmp_path):
    return PlatformDestinations(GuardedHttp(UrlGuard()), tmp_path / "exports")


async def publish_all(driver, publisher, *contents):
    ours = {p.publication_id for c in contents for p in await driver.publications(c.content_id)}
    released = await release_due(driver.uow, driver.clock, PublishPolicy(), batch=1000)
    return {r: await publisher.publish(r) for r in released if r in ours}


async def test_an_article_is_exported_as_markdown_with_images_beside_it(
    driver, destinations, tmp_path
):
    account = uuid.uuid4()
    site = await driver.site(account)
    integration = await driver.integration(account, site, settings={"folder": "garden"})
    content = driver.content(site, slug="compost-bins-guide")
    await driver.ready(account, content)
    publisher = driver.publisher(destinations)
    outcome = await publish_all(driver, publisher, content)
    assert list(outcome.values()) == [Status.PUBLISHED]

    folder = tmp_path / "exports" / str(account) / "garden"
    page = (folder / "compost-bins-guide.md").read_text()
    _, front, body = page.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["title"] == content.title
    assert meta["slug"] == "compost-bins-guide"
    assert meta["tags"] == ["compost bins", "garden soil"]
    assert meta["description"] == content.meta_description
    files = {i["file"] for i in meta["images"]}
    assert files == {"compost-bins-guide-featured-0.png", "compost-bins-guide-inline-1.png"}
    assert all((folder / f).read_bytes().startswith(b"\x89PNG") for f in files)
    assert "## Why compost bins work" in body
    assert "![a heap](compost-bins-guide-inline-1.png)" in body  # placed and re-pointed

    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id == "compost-bins-guide.md"
    assert publication.published_version == 1
    events = await driver.events(site)
    assert [e["topic"] for e in events] == ["publication.scheduled", "publication.completed"]
    assert events[-1]["data"]["remote_id"] == "compost-bins-guide.md"
    assert events[-1]["data"]["status"] == "published"
    assert integration  # the integration's folder only

    # an edit: the same file is rewritten (same slug), still one file
    await driver.ready(
        account,
        driver.content(
            site,
            content.content_id,
            version=2,
            slug="compost-bins-guide",
            title="Compost bins, revised",
        ),
    )
    assert list((await publish_all(driver, publisher, content)).values()) == [Status.PUBLISHED]
    assert sorted(p.name for p in folder.glob("*.md")) == ["compost-bins-guide.md"]
    assert "Compost bins, revised" in (folder / "compost-bins-guide.md").read_text()

    # someone edits the file: the next version is not written over it
    (folder / "compost-bins-guide.md").write_text("edited by hand\n")
    await driver.ready(
        account, driver.content(site, content.content_id, version=3, slug="compost-bins-guide")
    )
    assert list((await publish_all(driver, publisher, content)).values()) == [Status.FAILED]
    assert (folder / "compost-bins-guide.md").read_text() == "edited by hand\n"
    [publication] = await driver.publications(content.content_id)
    assert publication.last_error.startswith("remote_edited")
    assert (await driver.events(site))[-1]["data"]["reason"] == "remote_edited"


async def test_a_folder_outside_the_export_root_is_refused(driver, destinations, tmp_path):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site, settings={"folder": "../../etc"})
    content = driver.content(site)
    await driver.ready(account, content)
    outcome = await publish_all(driver, driver.publisher(destinations), content)
    assert list(outcome.values()) == [Status.FAILED]
    [publication] = await driver.publications(content.content_id)
    assert publication.last_error.startswith("invalid_settings")
    assert not (tmp_path / "etc").exists()


class FlakyDestination:
    def __init__(self, failures):
        self.failures = list(failures)
        self.calls = 0

    def for_platform(self, platform):
        return self

    async def publish(self, target, post, known, hooks):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        from publishing.ports import RemotePost

        return RemotePost("1", "https://garden.example.com/p/1", "m1")


async def test_transient_failures_are_retried_with_backoff_then_permanent_ones_fail(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site, "wordpress")
    content = driver.content(site)
    await driver.ready(account, content)
    flaky = FlakyDestination(
        [
            DestinationFailure("unavailable", "HTTP 503"),
            DestinationFailure("rate_limited", "429", retry_after=7),
        ]
    )
    publisher = driver.publisher(flaky, backoff_s=10)
    assert list((await publish_all(driver, publisher, content)).values()) == [Status.SCHEDULED]
    [p] = await driver.publications(content.content_id)
    wait = (p.scheduled_for - driver.clock.now()).total_seconds()
    assert 5 <= wait <= 10  # backoff 10 s with jitter
    driver.clock.advance(seconds=10)
    assert list((await publish_all(driver, publisher, content)).values()) == [Status.SCHEDULED]
    [p] = await driver.publications(content.content_id)
    assert (p.scheduled_for - driver.clock.now()).total_seconds() == 7  # Retry-After honoured
    driver.clock.advance(seconds=7)
    assert list((await publish_all(driver, publisher, content)).values()) == [Status.PUBLISHED]
    assert flaky.calls == 3

    other = driver.content(site)
    await driver.ready(account, other)
    refused = FlakyDestination([DestinationFailure("bad_credentials", "401", permanent=True)])
    assert list((await publish_all(driver, driver.publisher(refused), other)).values()) == [
        Status.FAILED
    ]
    assert refused.calls == 1
    failed = [e for e in await driver.events(site) if e["topic"] == "publication.failed"]
    assert failed[-1]["data"]["reason"] == "bad_credentials"
    # integration counts it against the integration's health (integration's test_publish_outcomes)
    assert failed[-1]["data"]["permanent"] is True
