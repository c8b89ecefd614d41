"""Credentials kept between publishes (KeptCredentials) and rotated meanwhile: the destination's
refusal makes the publisher forget them and ask again, once — and never create twice, even when
the refusal came after a create. Refused credentials that were just fetched fail at once."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pytest

from publishing.adapters.internal_http import KeptCredentials
from publishing.app.publish import PublishPolicy, release_due
from publishing.domain.errors import DestinationFailure
from publishing.domain.model import Status
from publishing.ports import RemotePost

pytestmark = pytest.mark.integration


class Integration:
    """Integration's endpoint: whatever password the integration has now."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.asked = 0

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        return False

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        self.asked += 1
        return {"username": "admin", "application_password": self.password}


class Site:
    """A destination that accepts one password; `refuse_after_create` refuses the first
    attempt's follow-up write after its create went through (a rotation in between)."""

    def __init__(self, password: str, refuse_after_create: bool = False) -> None:
        self.password = password
        self.refuse_after_create = refuse_after_create
        self.posts: dict[str, str] = {}
        self.attempts: list[tuple[str, str | None, bool]] = []

    def for_platform(self, platform: str):
        return self

    async def publish(self, target, post, known, hooks) -> RemotePost:
        used = target.credentials["application_password"]
        self.attempts.append((used, known.remote_id, known.outcome_unknown))
        remote_id = known.remote_id
        if remote_id is None and known.outcome_unknown:
            remote_id = next((i for i, slug in self.posts.items() if slug == post.slug), None)
        if remote_id is None:
            if used != self.password and not self.refuse_after_create:
                raise DestinationFailure("bad_credentials", "HTTP 401", permanent=True)
            await hooks.before_create()
            remote_id = str(len(self.posts) + 1)
            self.posts[remote_id] = post.slug
            await hooks.created(RemotePost(remote_id, f"https://site/{remote_id}", "m1"))
        if used != self.password:
            raise DestinationFailure("bad_credentials", "HTTP 401", permanent=True)
        return RemotePost(remote_id, f"https://site/{remote_id}", "m2")

    async def unpublish(self, target, remote_id):
        return None


async def publish_one(driver, publisher, account, site):
    content = driver.content(site)
    await driver.ready(account, content)
    ours = {p.publication_id for p in await driver.publications(content.content_id)}
    released = await release_due(driver.uow, driver.clock, PublishPolicy(), batch=1000)
    [publication_id] = [r for r in released if r in ours]
    return content, await publisher.publish(publication_id)


async def setup(driver, site_double, integration_double):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site, "wordpress", settings={})
    publisher = driver.publisher(site_double, KeptCredentials(integration_double, ttl_s=3600))
    return account, site, publisher


async def test_kept_credentials_rotated_meanwhile_are_asked_for_again(driver):
    integration, destination = Integration("old"), Site("old")
    account, site, publisher = await setup(driver, destination, integration)
    assert (await publish_one(driver, publisher, account, site))[1] == Status.PUBLISHED
    assert integration.asked == 1
    assert (await publish_one(driver, publisher, account, site))[1] == Status.PUBLISHED
    assert integration.asked == 1, "kept between publishes"

    integration.password = destination.password = "new"  # rotated on both sides
    _, status = await publish_one(driver, publisher, account, site)
    assert status == Status.PUBLISHED
    assert integration.asked == 2
    assert [a[0] for a in destination.attempts[-2:]] == ["old", "new"]
    assert len(destination.posts) == 3


async def test_a_refusal_after_the_create_never_creates_twice(driver):
    integration, destination = Integration("old"), Site("old", refuse_after_create=True)
    account, site, publisher = await setup(driver, destination, integration)
    assert (await publish_one(driver, publisher, account, site))[1] == Status.PUBLISHED
    integration.password = destination.password = "new"
    content, status = await publish_one(driver, publisher, account, site)
    assert status == Status.PUBLISHED
    assert len(destination.posts) == 2, "one post per article"
    # the second try knew the post the refused one had created
    assert destination.attempts[-1] == ("new", "2", False)
    [publication] = await driver.publications(content.content_id)
    assert publication.remote_id == "2"


async def test_refused_credentials_just_fetched_fail_at_once(driver):
    integration, destination = Integration("wrong"), Site("right")
    account, site, publisher = await setup(driver, destination, integration)
    content, status = await publish_one(driver, publisher, account, site)
    assert status == Status.FAILED
    assert integration.asked == 1 and len(destination.attempts) == 1
    [publication] = await driver.publications(content.content_id)
    assert publication.last_error.startswith("bad_credentials")
