"""Automation's HTTP contract (issue 12, issue 9 §2.4): the one error format with the live run's
id on a 409, PUT replaces and PATCH merges the config, lists page with `has_more`, a bad keyword
row is that row's error, and an edit that would make `content.ready` exceed 1 MiB is a 413."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import clusters, contents, ideas, known_sites, tasks
from automation.bootstrap import bootstrap
from automation.config import AutomationSettings
from igny8.auth import auth_headers
from igny8.contracts import MAX_MESSAGE_BYTES
from igny8.db import create_engine
from igny8.runtime import create_app

pytestmark = pytest.mark.integration


@dataclass
class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Api:
    client: httpx.AsyncClient
    engine: object
    site: uuid.UUID
    account: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return auth_headers(None, "gateway", "automation", self.account)


@pytest.fixture
async def api(automation_db, tmp_path):
    engine = create_engine(automation_db, 5)
    settings = AutomationSettings(
        database_url=automation_db,
        openai_base_url="http://127.0.0.1:9/v1",  # configured; never called by these routes
        billing_url="http://127.0.0.1:9",
        image_root=tmp_path / "i",
        run_log_root=tmp_path / "r",
        start_wait_s=0.2,
    )
    account, site = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site,
                account_id=account,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
    app = create_app(bootstrap(settings, engine=engine, clock=Clock()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://automation"
    ) as c:
        yield Api(c, engine, site, account)
    await engine.dispose()


async def test_a_second_start_is_409_naming_the_live_run(api: Api) -> None:
    first = await api.client.post(f"/sites/{api.site}/runs", headers=api.headers)
    assert first.status_code == 202, first.text  # billing never answers here: still reserving
    run_id = first.json()["run_id"]
    second = await api.client.post(f"/sites/{api.site}/runs", headers=api.headers)
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert (error["type"], error["code"], error["run_id"]) == (
        "conflict_error",
        "run_active",
        run_id,
    )
    assert error["request_id"] == second.headers["X-Request-Id"]


async def test_put_replaces_the_config_and_patch_merges_into_it(api: Api) -> None:
    url = f"/sites/{api.site}/config"
    put = await api.client.put(
        url,
        json={
            "ideas_per_cluster": 5,
            "schedule": {"frequency": "daily", "timezone": "Europe/Paris"},
        },
        headers=api.headers,
    )
    assert put.status_code == 200, put.text
    patched = await api.client.patch(
        url, json={"target_word_count": 900, "schedule": {"time": "07:30"}}, headers=api.headers
    )
    assert patched.status_code == 200, patched.text
    merged = (await api.client.get(url, headers=api.headers)).json()
    assert (merged["ideas_per_cluster"], merged["target_word_count"]) == (5, 900)
    schedule = merged["schedule"]
    assert (schedule["frequency"], schedule["timezone"], schedule["time"]) == (
        "daily",
        "Europe/Paris",
        "07:30",
    )
    replaced = await api.client.put(url, json={"target_word_count": 800}, headers=api.headers)
    assert replaced.json()["ideas_per_cluster"] == 2  # PUT: what was left out is the default
    assert replaced.json()["schedule"]["frequency"] == "none"


async def test_an_unknown_timezone_is_refused_at_the_api(api: Api) -> None:
    for method in ("PUT", "PATCH"):
        answer = await api.client.request(
            method,
            f"/sites/{api.site}/config",
            json={"schedule": {"frequency": "daily", "timezone": "Mars/Olympus"}},
            headers=api.headers,
        )
        assert answer.status_code == 422, answer.text
        assert "Mars/Olympus" in answer.json()["error"]["message"]


async def test_lists_say_whether_there_is_more_and_where_it_starts(api: Api) -> None:
    body = b"keyword\n" + b"\n".join(f"kw {i}".encode() for i in range(5))
    await api.client.post(
        f"/sites/{api.site}/keywords",
        content=body,
        headers={**api.headers, "Content-Type": "text/csv"},
    )
    url = f"/sites/{api.site}/keywords"
    first = (await api.client.get(url, params={"limit": 3}, headers=api.headers)).json()
    assert (len(first["items"]), first["has_more"], first["next_offset"]) == (3, True, 3)
    rest = (await api.client.get(url, params={"limit": 3, "offset": 3}, headers=api.headers)).json()
    assert (len(rest["items"]), rest["has_more"], rest["next_offset"]) == (2, False, None)
    seen = {i["keyword"] for i in first["items"] + rest["items"]}
    assert seen == {f"kw {i}" for i in range(5)}
    runs = (await api.client.get(f"/sites/{api.site}/runs", headers=api.headers)).json()
    assert (runs["items"], runs["has_more"]) == ([], False)


async def test_an_out_of_range_keyword_row_is_that_rows_error(api: Api) -> None:
    answer = await api.client.post(
        f"/sites/{api.site}/keywords",
        json=[
            {"keyword": "huge", "volume": 99999999999999999999},
            {"keyword": "rich", "cpc": 123456789012.55},
            {"keyword": "fine", "volume": 10, "cpc": 1.25},
        ],
        headers=api.headers,
    )
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["imported"] == 1
    assert [e["line"] for e in result["errors"]] == [1, 2]
    huge = await api.client.patch(
        f"/sites/{api.site}/keywords/{uuid.uuid4()}",
        json={"volume": 99999999999999},
        headers=api.headers,
    )
    assert huge.status_code == 422 and huge.json()["error"]["param"] == "volume", huge.text


async def seed_content(api: Api) -> uuid.UUID:
    cluster, idea, task, content = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    tenant = {"account_id": api.account, "site_id": api.site}
    async with api.engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(sa.insert(clusters).values(cluster_id=cluster, name="C", **tenant))
        await conn.execute(
            sa.insert(ideas).values(idea_id=idea, cluster_id=cluster, title="Idea", **tenant)
        )
        await conn.execute(sa.insert(tasks).values(task_id=task, idea_id=idea, **tenant))
        await conn.execute(
            sa.insert(contents).values(
                content_id=content,
                task_id=task,
                title="Compost",
                html="<p>short</p>",
                slug="compost",
                word_count=1,
                **tenant,
            )
        )
    return content


async def test_an_edit_that_would_overflow_content_ready_is_413_and_changes_nothing(
    api: Api,
) -> None:
    content = await seed_content(api)
    url = f"/sites/{api.site}/content/{content}"
    too_big = "<p>" + "a" * MAX_MESSAGE_BYTES + "</p>"
    refused = await api.client.patch(url, json={"html": too_big}, headers=api.headers)
    assert refused.status_code == 413, refused.text[:500]
    assert refused.json()["error"]["code"] == "payload_too_large"
    kept = (await api.client.get(url, headers=api.headers)).json()
    assert kept["html"] == "<p>short</p>"
    # just under the limit (the envelope's other fields take the rest): accepted
    fits = "<p>" + "a" * (MAX_MESSAGE_BYTES - 4096) + "</p>"
    accepted = await api.client.patch(url, json={"html": fits}, headers=api.headers)
    assert accepted.status_code == 200, accepted.text[:500]
    assert len((await api.client.get(url, headers=api.headers)).json()["html"]) == len(fits)
