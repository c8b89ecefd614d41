"""The internal HTTP API: settings, publications and their actions, reports, links and undo, the
link graph — and another account's objects answer 404 on every route."""

from __future__ import annotations

import uuid

import httpx
import pytest

from igny8.auth import auth_headers
from igny8.net import GuardedHttp, UrlGuard
from igny8.runtime import create_app
from publishing.adapters.destinations import PlatformDestinations
from publishing.bootstrap import bootstrap
from publishing.config import PublishingSettings
from publishing.entrypoints.http_models import (
    ArticleHtml,
    ArticleReport,
    LinkGraph,
    LinkList,
    LinkUndone,
    PublicationDetail,
    PublicationPage,
    PublicationState,
    SuggestionList,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(publishing_db, engine, clock, tmp_path):
    settings = PublishingSettings(database_url=publishing_db)
    service = bootstrap(
        settings,
        engine=engine,
        clock=clock,
        destinations=PlatformDestinations(GuardedHttp(UrlGuard()), tmp_path),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(service)), base_url="http://publishing"
    ) as client:
        yield client


def as_(account, caller="gateway", user="ann"):
    headers = auth_headers(None, caller, "publishing", account)  # the caller's key from the env
    if user:
        headers["X-User-Id"] = user
    return headers


async def setup_site(driver, *, auto_publish=False):
    account = uuid.uuid4()
    site = await driver.site(account)
    integration = await driver.integration(account, site)
    await driver.inventory(
        account,
        site,
        integration,
        "7",
        "Leaf mould basics",
        "https://garden.example.com/leaf-mould",
        "leaf mould from leaves",
    )
    content = driver.content(site, auto_publish=auto_publish)
    await driver.ready(account, content)
    [publication] = await driver.publications(content.content_id)
    return account, site, integration, content, publication


async def test_settings_round_trip_and_are_validated(api, driver):
    account, site, integration, *_ = await setup_site(driver)
    got = await api.get(f"/sites/{site}/settings", headers=as_(account))
    assert got.status_code == 200 and got.json()["approval"] is None
    body = {
        "approval": "rule",
        "score_floor": 70,
        "schedule": {"mode": "slots", "days": [0, 2], "times": ["09:30"]},
        "daily_cap": 3,
        "queue_limit": 10,
        "default_status": "draft",
        "default_destination": str(integration),
        "linking": {"enabled": True, "max_per_1000_words": 3, "max_links": 5},
    }
    put = await api.put(f"/sites/{site}/settings", json=body, headers=as_(account))
    assert put.status_code == 200, put.text
    again = (await api.get(f"/sites/{site}/settings", headers=as_(account))).json()
    assert again["schedule"]["times"] == ["09:30"] and again["daily_cap"] == 3
    bad = await api.put(
        f"/sites/{site}/settings",
        json={"schedule": {"mode": "slots", "times": ["9am"]}},
        headers=as_(account),
    )
    assert bad.status_code == 422
    elsewhere = await api.put(
        f"/sites/{site}/settings",
        json={"default_destination": str(uuid.uuid4())},
        headers=as_(account),
    )
    assert elsewhere.status_code == 422


async def test_approve_reschedule_cancel_and_history(api, driver, clock):
    account, site, _, _, publication = await setup_site(driver)
    base = f"/sites/{site}/publications/{publication.publication_id}"
    listed = await api.get(
        f"/sites/{site}/publications", params={"status": "pending_approval"}, headers=as_(account)
    )
    assert [p["publication_id"] for p in listed.json()["items"]] == [
        str(publication.publication_id)
    ]
    PublicationPage.model_validate(listed.json())  # each answer as its documented model
    approved = await api.post(f"{base}/approve", headers=as_(account, user="ann"))
    assert approved.status_code == 200 and approved.json()["status"] == "scheduled"
    later = clock.now().replace(year=2027).isoformat()
    moved = await api.post(f"{base}/reschedule", json={"at": later}, headers=as_(account))
    assert moved.json()["scheduled_for"] == later
    naive = await api.post(
        f"{base}/reschedule", json={"at": "2027-01-01T10:00:00"}, headers=as_(account)
    )
    assert naive.status_code == 422
    now = await api.post(f"{base}/publish-now", headers=as_(account))
    assert now.json()["scheduled_for"] == clock.now().isoformat()
    cancelled = await api.post(f"{base}/cancel", headers=as_(account, user="bob"))
    assert cancelled.json()["status"] == "cancelled"
    for answer in (approved, moved, now, cancelled):  # as documented (`PublicationState`)
        PublicationState.model_validate(answer.json())
    again = await api.post(f"{base}/cancel", headers=as_(account))
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    unpublish = await api.post(f"{base}/unpublish", headers=as_(account))
    assert unpublish.status_code == 409
    detail = (await api.get(base, headers=as_(account))).json()
    PublicationDetail.model_validate(detail)
    history = detail["transitions"]
    assert [(h["to_status"], h["actor"]) for h in history] == [
        ("pending_approval", "system"),
        ("scheduled", "user:ann"),
        ("scheduled", "user:ann"),
        ("scheduled", "user:ann"),
        ("cancelled", "user:bob"),
    ]


async def test_reject_records_the_reason(api, driver):
    account, site, _, _, publication = await setup_site(driver)
    answer = await api.post(
        f"/sites/{site}/publications/{publication.publication_id}/reject",
        json={"reason": "off-topic"},
        headers=as_(account),
    )
    assert answer.json()["status"] == "cancelled"
    history = (
        await api.get(
            f"/sites/{site}/publications/{publication.publication_id}", headers=as_(account)
        )
    ).json()["transitions"]
    assert history[-1]["reason"] == "rejected: off-topic"


async def test_report_links_undo_and_graph(api, driver):
    account, site, _, content, _ = await setup_site(driver)
    report = (
        await api.get(f"/sites/{site}/articles/{content.content_id}/report", headers=as_(account))
    ).json()
    assert 0 <= report["score"] <= 100
    ArticleReport.model_validate(report)  # each answer as its documented model
    assert {c["name"] for c in report["report"]["checks"]} >= {"keyphrase_in_title", "single_h1"}
    listed = (
        await api.get(
            f"/sites/{site}/links",
            params={"content_id": str(content.content_id)},
            headers=as_(account),
        )
    ).json()
    LinkList.model_validate(listed)
    links = listed["items"]
    assert [link["target_url"] for link in links] == ["https://garden.example.com/leaf-mould"]
    html = (
        await api.get(f"/sites/{site}/articles/{content.content_id}/html", headers=as_(account))
    ).json()
    assert html["linked_html"] != html["html"]
    ArticleHtml.model_validate(html)
    undone = await api.post(f"/sites/{site}/links/{links[0]['link_id']}/undo", headers=as_(account))
    assert undone.status_code == 200
    assert undone.json()["linked_html"] == html["html"]  # exactly the HTML without the link
    LinkUndone.model_validate(undone.json())
    twice = await api.post(f"/sites/{site}/links/{links[0]['link_id']}/undo", headers=as_(account))
    assert twice.status_code == 409
    graph = (await api.get(f"/sites/{site}/link-graph", headers=as_(account))).json()
    assert graph["links"] == 0
    assert graph["orphans"] == ["https://garden.example.com/leaf-mould"]
    assert graph["coverage"] == 0.0
    LinkGraph.model_validate(graph)
    suggestions = await api.get(f"/sites/{site}/link-suggestions", headers=as_(account))
    SuggestionList.model_validate(suggestions.json())


async def test_every_route_hides_another_accounts_objects(api, driver):
    account, site, _, content, publication = await setup_site(driver)
    links = (await api.get(f"/sites/{site}/links", headers=as_(account))).json()["items"]
    stranger = as_(uuid.uuid4())
    p = f"/sites/{site}/publications/{publication.publication_id}"
    routes = [
        ("GET", f"/sites/{site}/settings", None),
        ("PUT", f"/sites/{site}/settings", {}),
        ("GET", f"/sites/{site}/publications", None),
        ("GET", p, None),
        ("POST", f"{p}/approve", None),
        ("POST", f"{p}/republish", None),
        ("POST", f"{p}/publish-now", None),
        ("POST", f"{p}/reschedule", {"at": "2027-01-01T00:00:00+00:00"}),
        ("POST", f"{p}/reject", {"reason": "x"}),
        ("POST", f"{p}/cancel", None),
        ("POST", f"{p}/unpublish", None),
        ("GET", f"/sites/{site}/articles/{content.content_id}/report", None),
        ("GET", f"/sites/{site}/articles/{content.content_id}/html", None),
        ("GET", f"/sites/{site}/links", None),
        ("POST", f"/sites/{site}/links/{links[0]['link_id']}/undo", None),
        ("GET", f"/sites/{site}/link-graph", None),
        ("GET", f"/sites/{site}/link-suggestions", None),
        ("POST", f"/sites/{site}/link-suggestions/{uuid.uuid4()}/accept", None),
        ("POST", f"/sites/{site}/link-suggestions/{uuid.uuid4()}/reject", None),
    ]
    for method, path, body in routes:
        answer = await api.request(method, path, json=body, headers=stranger)
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
        # the one error shape's code for a missing object, as every service answers it
        assert answer.json()["error"]["code"] == "resource_missing", (method, path, answer.text)
    # nothing changed for the owner
    [still] = await driver.publications(content.content_id)
    assert still.status == publication.status
    assert (await api.get(f"/sites/{site}/links", headers=as_(account))).json()["items"][0][
        "status"
    ] == "active"
    # and only the gateway is admitted, with a valid token
    assert (await api.get(f"/sites/{site}/settings")).status_code == 401
    assert (
        await api.get(f"/sites/{site}/settings", headers=as_(account, caller="automation"))
    ).status_code == 403


async def test_optimize_is_accepted_with_202_new_or_repeated(api, driver):
    """Optimization is asynchronous: the route answers 202 whether it starts one or answers the
    live one of this article version (as the gateway's route table and the README say)."""
    account = uuid.uuid4()
    site = await driver.site(account)
    content = driver.content(site, keyphrase="worm farms", title="A guide for small gardens")
    await driver.ready(account, content)
    path = f"/sites/{site}/articles/{content.content_id}/optimize"
    first = await api.post(path, headers=as_(account))
    assert first.status_code == 202, first.text
    again = await api.post(path, headers=as_(account))
    assert again.status_code == 202, again.text
    assert again.json()["optimization_id"] == first.json()["optimization_id"]
    assert again.json()["status"] == "reserving"
