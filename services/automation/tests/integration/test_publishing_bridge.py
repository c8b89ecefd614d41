"""Automation's side of publishing (issue 10): an edit or a regeneration emits `content.ready`
with a growing version; publication.completed / unpublished mark the article `published` (with
its URL) or `ready` again; approval is publishing's alone."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import contents
from automation.app.content_edits import edit_content
from automation.app.runs import regenerate_content
from automation.entrypoints.events import publication_subscription
from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.contracts.publications import PublicationChanged

pytestmark = pytest.mark.integration

SMALL = {"ideas_per_cluster": 1, "target_word_count": 200, "inline_images": 0, "auto_publish": True}


async def finished_article(h) -> uuid.UUID:
    await h.add_site(SMALL)
    await h.add_keywords(2)
    run_id = await h.start([1, 2, 3, 4])
    assert (await h.drive_until(run_id, {"completed", "failed"}))["status"] == "completed"
    await h.pump_once()
    async with h.engine.connect() as conn:
        return (
            (
                await conn.execute(
                    sa.select(contents.c.content_id).where(contents.c.run_id == run_id)
                )
            )
            .scalars()
            .first()
        )


def ready_of(h, content_id: uuid.UUID) -> list[dict[str, Any]]:
    return [e.data for e in h.topics("content.ready") if e.data["content_id"] == str(content_id)]


async def test_an_edit_and_a_regeneration_each_emit_content_ready_with_a_newer_version(harness):
    h = harness
    content_id = await finished_article(h)
    assert [m["version"] for m in ready_of(h, content_id)] == [1]
    assert ready_of(h, content_id)[0]["auto_publish"] is True  # the flag selects `auto`
    async with h.uow() as uow:
        await edit_content(
            uow, h.account, h.site, content_id, {"title": "Edited"}, lambda i: f"/i/{i}", True
        )
        await uow.commit()
    await h.pump_once()
    edited = ready_of(h, content_id)[-1]
    assert (edited["version"], edited["title"]) == (2, "Edited")
    async with h.uow() as uow:  # a status change alone is not a new version of the article
        await edit_content(
            uow, h.account, h.site, content_id, {"status": "ready"}, lambda i: f"/i/{i}", True
        )
        await uow.commit()
    await h.pump_once()
    assert len(ready_of(h, content_id)) == 2
    async with h.uow() as uow:
        again = await regenerate_content(uow, h.account, h.site, content_id)
        await uow.commit()
    assert (await h.drive_until(again, {"completed", "failed"}))["status"] == "completed"
    await h.pump_once()
    regenerated = ready_of(h, content_id)[-1]
    assert (regenerated["version"], regenerated["run_id"]) == (3, str(again))


async def publication(
    h, content_id, status, version=1, url=None, publication_id=None, account=None
):
    payload = PublicationChanged(
        publication_id=publication_id or uuid.uuid4(),
        content_id=content_id,
        content_version=version,
        site_id=h.site,
        integration_id=uuid.uuid4(),
        platform="wordpress",
        status=status,
        remote_id="42",
        url=url,
    )
    topic = {"published": "publication.completed", "unpublished": "publication.unpublished"}[status]
    envelope = TOPICS.envelope(
        topic, payload, source="publishing", account_id=account or h.account, site_id=h.site
    )
    async with h.sessions() as session, session.begin():
        await publication_subscription().handler(envelope, payload, session)
    return payload.publication_id


async def article(h, content_id) -> dict[str, Any]:
    async with h.engine.connect() as conn:
        row = (
            await conn.execute(sa.select(contents).where(contents.c.content_id == content_id))
        ).first()
    return dict(row._mapping)


async def test_publication_events_mark_the_article_published_and_back(harness):
    h = harness
    content_id = await finished_article(h)
    wp = await publication(h, content_id, "published", url="https://s.example/compost/")
    found = await article(h, content_id)
    assert (found["status"], found["published_url"]) == ("published", "https://s.example/compost/")
    # a second destination, then the first one unpublished: still published, at the other URL
    shop = await publication(h, content_id, "published", url="https://shop.example/compost")
    await publication(h, content_id, "unpublished", publication_id=wp)
    found = await article(h, content_id)
    assert (found["status"], found["published_url"]) == (
        "published",
        "https://shop.example/compost",
    )
    await publication(h, content_id, "unpublished", publication_id=shop)
    found = await article(h, content_id)
    assert (found["status"], found["published_url"]) == ("ready", None)


async def test_a_late_older_event_and_another_accounts_event_change_nothing(harness):
    h = harness
    content_id = await finished_article(h)
    pub = await publication(h, content_id, "published", version=2, url="https://s.example/v2/")
    await publication(h, content_id, "unpublished", version=1, publication_id=pub)  # late, older
    assert (await article(h, content_id))["status"] == "published"
    stranger = uuid.uuid4()
    await publication(h, content_id, "unpublished", version=3, publication_id=pub, account=stranger)
    assert (await article(h, content_id))["status"] == "published"


async def test_approving_in_automation_is_gone_and_says_where_it_lives(automation_db, tmp_path):
    from automation.bootstrap import bootstrap
    from automation.config import AutomationSettings
    from igny8.clock import SystemClock
    from igny8.db import create_engine
    from igny8.runtime import create_app

    engine = create_engine(automation_db, 2)
    settings = AutomationSettings(
        database_url=automation_db, image_root=tmp_path / "i", run_log_root=tmp_path / "r"
    )
    app = create_app(bootstrap(settings, engine=engine, clock=SystemClock()))
    account = uuid.uuid4()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://automation"
    ) as c:
        answer = await c.post(
            f"/sites/{uuid.uuid4()}/content/{uuid.uuid4()}/approve",
            headers=auth_headers(None, "gateway", "automation", account),
        )
    await engine.dispose()
    assert answer.status_code == 410, answer.text
    assert answer.json()["error"]["code"] == "approval_moved"
    assert "publishing" in answer.json()["error"]["message"]
