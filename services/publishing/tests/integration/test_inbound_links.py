"""Inbound links: publishing an article proposes links to it from the site's earlier published
articles; accepting injects and records one and re-publishes the source; `auto` does it at once."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from igny8.net import GuardedHttp, UrlGuard
from publishing.adapters.destinations import PlatformDestinations
from publishing.adapters.sqlalchemy_tables import articles, link_suggestions
from publishing.app.inbound import accept_suggestion, reject_suggestion
from publishing.app.publish import Published, PublishPolicy, release_due
from publishing.domain.errors import LinkNotUndoable
from publishing.domain.model import Status
from publishing.domain.settings import SiteSettings

pytestmark = pytest.mark.integration


async def publish(driver, publisher, *contents):
    ours = {p.publication_id for c in contents for p in await driver.publications(c.content_id)}
    released = await release_due(driver.uow, driver.clock, PublishPolicy(), batch=1000)
    return [await publisher.publish(r) for r in released if r in ours]


async def two_articles(driver, tmp_path, inbound):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site, settings={"folder": f"site-{site.hex[:6]}"})
    async with driver.uow() as uow:
        await uow.settings.put(
            account, site, SiteSettings(linking={"inbound": inbound, "max_per_1000_words": 10})
        )
        await uow.commit()
    publisher = driver.publisher(PlatformDestinations(GuardedHttp(UrlGuard()), tmp_path))
    older = driver.content(site, keyphrase="compost bins")
    await driver.ready(account, older)
    assert await publish(driver, publisher, older) == [Status.PUBLISHED]
    newer = driver.content(site, keyphrase="leaf mould", title="Leaf mould for small gardens")
    await driver.ready(account, newer)
    assert await publish(driver, publisher, newer) == [Status.PUBLISHED]
    return account, site, publisher, older, newer


async def suggestions(driver, site):
    async with driver.engine.connect() as conn:
        return (
            await conn.execute(
                sa.select(link_suggestions).where(link_suggestions.c.site_id == site)
            )
        ).all()


async def linked_html(driver, content_id):
    async with driver.engine.connect() as conn:
        return await conn.scalar(
            sa.select(articles.c.linked_html).where(articles.c.content_id == content_id)
        )


async def test_a_published_article_gets_proposed_links_from_earlier_ones(driver, tmp_path):
    account, site, publisher, older, newer = await two_articles(driver, tmp_path, "suggest")
    [proposal] = await suggestions(driver, site)
    assert proposal.source_content_id == older.content_id
    assert proposal.target_content_id == newer.content_id
    assert proposal.anchor.lower() == "leaf mould" and proposal.status == "proposed"
    [target] = await driver.publications(newer.content_id)
    assert target.remote_url not in await linked_html(driver, older.content_id)  # not yet

    async with driver.uow() as uow:
        link_id = await accept_suggestion(
            uow, account, site, proposal.suggestion_id, "user:ann", driver.clock
        )
        await uow.commit()
    html = await linked_html(driver, older.content_id)
    assert f'href="{target.remote_url}" data-igny8-link="{link_id}"' in html
    [source] = await driver.publications(older.content_id)
    assert source.status == Status.SCHEDULED  # the earlier article goes out again with the link
    assert await publish(driver, publisher, older) == [Status.PUBLISHED]
    async with driver.uow() as uow:
        with pytest.raises(LinkNotUndoable):  # decided already
            await reject_suggestion(
                uow, account, site, proposal.suggestion_id, "user:ann", driver.clock
            )


async def test_auto_inbound_links_are_applied_at_once(driver, tmp_path):
    _, site, _, older, newer = await two_articles(driver, tmp_path, "auto")
    [proposal] = await suggestions(driver, site)
    assert proposal.status == "accepted" and proposal.decided_by == "rule:inbound_auto"
    [target] = await driver.publications(newer.content_id)
    assert target.remote_url in await linked_html(driver, older.content_id)


async def test_no_proposals_when_inbound_linking_is_off(driver, tmp_path):
    _, site, _, _, _ = await two_articles(driver, tmp_path, "off")
    assert await suggestions(driver, site) == []


async def test_articles_published_together_get_their_proposals_in_one_batch(driver, tmp_path):
    """The scheduler proposes for a pass's published articles at once (one read, one fit, one
    write): each gets what it would get alone, and a re-run stores no duplicate pair."""
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site, settings={"folder": f"site-{site.hex[:6]}"})
    async with driver.uow() as uow:
        await uow.settings.put(
            account, site, SiteSettings(linking={"inbound": "suggest", "max_per_1000_words": 10})
        )
        await uow.commit()
    publisher = driver.publisher(PlatformDestinations(GuardedHttp(UrlGuard()), tmp_path))
    older = driver.content(site, keyphrase="compost bins")
    await driver.ready(account, older)
    assert await publish(driver, publisher, older) == [Status.PUBLISHED]
    newer = [
        driver.content(site, keyphrase="leaf mould", title="Leaf mould for small gardens"),
        driver.content(site, keyphrase="garden soil", title="Garden soil and compost bins"),
    ]
    for content in newer:
        await driver.ready(account, content)
    ours = {p.publication_id for c in newer for p in await driver.publications(c.content_id)}
    released = await release_due(driver.uow, driver.clock, PublishPolicy(), batch=1000)
    published: list[Published] = []
    for publication_id in released:
        if publication_id in ours:
            assert await publisher.publish(publication_id, published) == Status.PUBLISHED
    assert {p.content_id for p in published} == {c.content_id for c in newer}
    assert await suggestions(driver, site) == [], "left to the caller, to run together"
    await publisher.propose_inbound(published)
    found = await suggestions(driver, site)
    pairs = {(s.source_content_id, s.target_content_id): s for s in found}
    assert (older.content_id, newer[0].content_id) in pairs
    assert pairs[(older.content_id, newer[0].content_id)].anchor.lower() == "leaf mould"
    assert all(s.source_content_id != s.target_content_id for s in found)
    for target in newer:  # every target got at least one proposal, with its own URL
        [publication] = await driver.publications(target.content_id)
        mine = [s for s in found if s.target_content_id == target.content_id]
        assert mine and {s.target_url for s in mine} == {publication.remote_url}
    await publisher.propose_inbound(published)  # again: the known pairs are left as they are
    assert len(await suggestions(driver, site)) == len(found)
