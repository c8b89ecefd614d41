"""Publications from content.ready: one per article x destination, approval, schedules, caps,
cancellation by site deletion and integration removal, every transition recorded, events."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from publishing.adapters.sqlalchemy_tables import articles, links, publication_transitions
from publishing.app.publish import PublishPolicy, promote_queued, release_due
from publishing.domain.model import Status
from publishing.domain.settings import Schedule, SiteSettings

pytestmark = pytest.mark.integration


async def release(driver, *contents) -> list[uuid.UUID]:
    """Release what is due (the database is shared with other tests: keep only these)."""
    ours = {p.publication_id for c in contents for p in await driver.publications(c.content_id)}
    released = await release_due(
        driver.uow, driver.clock, PublishPolicy(lease_s=86_400), batch=1000
    )
    return [r for r in released if r in ours]


async def put_settings(driver, account, site, **values) -> None:
    async with driver.uow() as uow:
        await uow.settings.put(account, site, SiteSettings(**values))
        await uow.commit()


async def test_an_article_goes_to_every_active_integration_once(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    first = await driver.integration(account, site)
    second = await driver.integration(account, site)
    await driver.integration(account, site, is_active=False)
    content = driver.content(site)
    envelope = await driver.ready(account, content)
    await driver.redeliver(envelope)  # a transport duplicate past the inbox changes nothing
    await driver.ready(account, content)  # the same version under a new envelope id: nothing

    found = await driver.publications(content.content_id)
    assert {p.integration_id for p in found} == {first, second}
    assert all(p.status == Status.SCHEDULED for p in found)
    assert all(p.scheduled_for == driver.clock.now() for p in found)
    events = await driver.events(site)
    assert [e["topic"] for e in events] == ["publication.scheduled"] * 2
    assert {e["data"]["integration_id"] for e in events} == {str(first), str(second)}
    assert all(e["account_id"] == str(account) for e in events)


async def test_a_default_destination_takes_every_article(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site)
    chosen = await driver.integration(account, site)
    await put_settings(driver, account, site, default_destination=chosen)
    content = driver.content(site)
    await driver.ready(account, content)
    assert [p.integration_id for p in await driver.publications(content.content_id)] == [chosen]


async def test_manual_approval_holds_and_records_who_approved(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site)
    content = driver.content(site, auto_publish=False)  # the flag off selects manual
    await driver.ready(account, content)
    [publication] = await driver.publications(content.content_id)
    assert publication.status == Status.PENDING_APPROVAL
    assert await driver.events(site) == []

    from publishing.app.manage import approve

    async with driver.uow() as uow:
        await approve(uow, account, site, publication.publication_id, "user:ann", driver.clock)
        await uow.commit()
    [publication] = await driver.publications(content.content_id)
    assert publication.status == Status.SCHEDULED
    async with driver.engine.connect() as conn:
        history = (
            await conn.execute(
                sa.select(publication_transitions.c.to_status, publication_transitions.c.actor)
                .where(publication_transitions.c.publication_id == publication.publication_id)
                .order_by(publication_transitions.c.transition_id)
            )
        ).all()
    assert [tuple(h) for h in history] == [
        ("pending_approval", "system"),
        ("scheduled", "user:ann"),
    ]


async def test_an_article_below_the_score_floor_is_held_with_its_failing_checks(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site)
    await put_settings(driver, account, site, approval="auto", score_floor=99)
    content = driver.content(site)
    await driver.ready(account, content)
    [publication] = await driver.publications(content.content_id)
    assert publication.status == Status.PENDING_APPROVAL
    assert "below floor 99" in publication.hold_reason
    assert "failed checks" in publication.hold_reason


async def test_a_newer_version_reschedules_and_an_older_one_is_ignored(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site)
    content = driver.content(site, version=2)
    await driver.ready(account, content)
    await driver.ready(account, driver.content(site, content.content_id, version=1))
    [publication] = await driver.publications(content.content_id)
    assert publication.content_version == 2
    await driver.ready(account, driver.content(site, content.content_id, version=3))
    [publication] = await driver.publications(content.content_id)
    assert publication.content_version == 3
    async with driver.engine.connect() as conn:
        version = await conn.scalar(
            sa.select(articles.c.version).where(articles.c.content_id == content.content_id)
        )
    assert version == 3


async def test_site_deletion_and_integration_removal_cancel_waiting_publications(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    kept = await driver.integration(account, site)
    removed = await driver.integration(account, site)
    content = driver.content(site)
    await driver.ready(account, content)
    await driver.integration(account, site, integration_id=removed, deleted=True)
    by_integration = {p.integration_id: p for p in await driver.publications(content.content_id)}
    assert by_integration[removed].status == Status.CANCELLED
    assert by_integration[kept].status == Status.SCHEDULED
    await driver.site(account, site, deleted=True)
    by_integration = {p.integration_id: p for p in await driver.publications(content.content_id)}
    assert by_integration[kept].status == Status.CANCELLED
    # and nothing new is created for a deleted site
    later = driver.content(site)
    await driver.ready(account, later)
    assert await driver.publications(later.content_id) == []


async def test_an_article_for_another_accounts_site_is_ignored(driver):
    owner, intruder = uuid.uuid4(), uuid.uuid4()
    site = await driver.site(owner)
    await driver.integration(owner, site)
    content = driver.content(site)
    await driver.ready(intruder, content)
    assert await driver.publications(content.content_id) == []


async def test_stagger_schedule_and_queue_limit(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site)
    await put_settings(
        driver, account, site, schedule=Schedule(mode="stagger", stagger_minutes=30), queue_limit=2
    )
    contents = [driver.content(site) for _ in range(3)]
    for content in contents:
        await driver.ready(account, content)
    first, second, third = [(await driver.publications(c.content_id))[0] for c in contents]
    now = driver.clock.now()
    assert first.scheduled_for == now
    assert (second.scheduled_for - now).total_seconds() == 30 * 60
    assert third.status == Status.PENDING_APPROVAL and third.hold_reason == "queue_full"

    # the first goes out: room in the queue, the third is promoted behind the second
    assert await release(driver, *contents) == [first.publication_id]
    assert await promote_queued(driver.uow, driver.clock) >= 1
    third = (await driver.publications(contents[2].content_id))[0]
    assert third.status == Status.SCHEDULED
    assert (third.scheduled_for - now).total_seconds() == 60 * 60


async def test_daily_cap_per_destination_pushes_to_the_next_local_day(driver):
    account = uuid.uuid4()
    site = await driver.site(account, timezone="Europe/Berlin")
    await driver.integration(account, site)
    await put_settings(driver, account, site, daily_cap=2)
    contents = [driver.content(site) for _ in range(3)]
    for content in contents:
        await driver.ready(account, content)
    released = await release(driver, *contents)
    assert len(released) == 2
    late = [
        p
        for c in contents
        for p in await driver.publications(c.content_id)
        if p.publication_id not in released
    ]
    assert [p.status for p in late] == [Status.SCHEDULED]
    # 10:00 UTC = 11:00 Berlin; the next Berlin day starts at 23:00 UTC
    assert late[0].scheduled_for.isoformat() == "2026-11-26T23:00:00+00:00"
    driver.clock.advance(hours=13)
    assert await release(driver, *contents) == [late[0].publication_id]


async def test_links_from_the_inventory_are_injected_recorded_and_replaced_by_a_new_version(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    integration = await driver.integration(account, site)
    await put_settings(driver, account, site, linking={"max_per_1000_words": 10})
    await driver.inventory(
        account,
        site,
        integration,
        "11",
        "Green waste in the garden",
        "https://garden.example.com/green",
        "green waste keeps soil rich",
    )
    await driver.inventory(
        account,
        site,
        integration,
        "12",
        "Leaf mould basics",
        "https://garden.example.com/leaf-mould",
        "leaf mould from autumn leaves",
    )
    await driver.inventory(
        account,
        site,
        integration,
        "13",
        "Electric cars",
        "https://garden.example.com/cars",
        "batteries and motorways",
    )
    content = driver.content(site)
    await driver.ready(account, content)
    async with driver.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(links.c.target_url, links.c.anchor, links.c.status).where(
                    links.c.source_content_id == content.content_id
                )
            )
        ).all()
        linked = await conn.scalar(
            sa.select(articles.c.linked_html).where(articles.c.content_id == content.content_id)
        )
    targets = {r.target_url for r in rows}
    assert targets == {"https://garden.example.com/green", "https://garden.example.com/leaf-mould"}
    assert "https://garden.example.com/cars" not in targets
    for row in rows:
        assert f'href="{row.target_url}"' in linked
    await driver.ready(account, driver.content(site, content.content_id, version=2))
    async with driver.engine.connect() as conn:
        statuses = (
            await conn.execute(
                sa.select(links.c.content_version, links.c.status).where(
                    links.c.source_content_id == content.content_id
                )
            )
        ).all()
    assert {(v, s) for v, s in statuses} == {(1, "replaced"), (2, "active")}


async def test_an_article_for_a_site_not_known_yet_is_retried_not_dropped(driver):
    from publishing.domain.errors import UnknownSite

    account = uuid.uuid4()
    content = driver.content(uuid.uuid4())
    with pytest.raises(UnknownSite):  # the consumer retries with backoff, then dead-letters
        await driver.ready(account, content)
    async with driver.engine.connect() as conn:
        stored = await conn.scalar(
            sa.select(sa.func.count()).where(articles.c.content_id == content.content_id)
        )
    assert stored == 0


async def test_a_publication_that_keeps_losing_its_worker_fails_for_good(driver):
    account = uuid.uuid4()
    site = await driver.site(account)
    await driver.integration(account, site)
    content = driver.content(site)
    await driver.ready(account, content)
    policy = PublishPolicy(lease_s=60, max_attempts=3)
    [publication] = await driver.publications(content.content_id)

    async def release_ours():
        released = await release_due(driver.uow, driver.clock, policy, batch=1000)
        return [r for r in released if r == publication.publication_id]

    assert await release_ours() == [publication.publication_id]  # a worker takes it and dies
    for _ in range(2):
        driver.clock.advance(seconds=61)
        assert await release_ours() == [publication.publication_id]  # taken over
    driver.clock.advance(seconds=61)
    assert await release_ours() == []
    [publication] = await driver.publications(content.content_id)
    assert publication.status == Status.FAILED
    assert publication.last_error.startswith("worker_lost")
    assert (await driver.events(site))[-1]["data"]["reason"] == "worker_lost"


async def test_due_publications_come_fairly_across_accounts(driver):
    """One account's many scheduled articles cannot hold back another's few (issue 17)."""
    from datetime import UTC, datetime, timedelta

    from publishing.adapters.sqlalchemy_tables import publications

    long_ago = datetime(2000, 1, 1, tzinfo=UTC)  # before anything other tests schedule
    agency, small = uuid.uuid4(), uuid.uuid4()

    def row(account: uuid.UUID, minutes: int) -> dict[str, object]:
        return {
            "publication_id": uuid.uuid4(),
            "account_id": account,
            "site_id": uuid.uuid4(),
            "content_id": uuid.uuid4(),
            "integration_id": uuid.uuid4(),
            "platform": "static",
            "slug": "s",
            "status": Status.SCHEDULED.value,
            "content_version": 1,
            "scheduled_for": long_ago + timedelta(minutes=minutes),
            "created_at": long_ago,
            "updated_at": long_ago,
        }

    rows = [row(agency, m) for m in range(30)] + [row(small, 100), row(small, 101)]
    async with driver.uow() as uow:
        await uow.session.execute(sa.insert(publications), rows)
        await uow.commit()
    try:
        async with driver.uow() as uow:
            due = await uow.publications.due(long_ago + timedelta(days=1), 4)
        accounts = {r["publication_id"]: r["account_id"] for r in rows}
        assert [accounts[d] for d in due] == [agency, small, agency, small]
    finally:
        async with driver.uow() as uow:
            await uow.session.execute(
                sa.delete(publications).where(publications.c.account_id.in_([agency, small]))
            )
            await uow.commit()
