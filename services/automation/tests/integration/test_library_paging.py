"""Library lists page by keyset: `cursor=next_cursor` walks a list while rows are added and
deleted between pages without skipping or repeating one (an offset shifts); `offset` still works."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import clusters, known_sites, runs
from automation.bootstrap import bootstrap
from automation.config import AutomationSettings
from igny8.auth import auth_headers
from igny8.db import create_engine
from igny8.runtime import create_app

pytestmark = pytest.mark.integration


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
async def api(automation_db, tmp_path):
    engine = create_engine(automation_db, 5)
    settings = AutomationSettings(
        database_url=automation_db,
        openai_base_url="http://127.0.0.1:9/v1",
        image_root=tmp_path / "i",
        run_log_root=tmp_path / "r",
    )
    app = create_app(bootstrap(settings, engine=engine, clock=Clock()))
    account, site = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site, account_id=account, version=1, deleted=False, name="s", url="u"
            )
        )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://automation"
    ) as c:
        yield c, engine, site, auth_headers(None, "gateway", "automation", account), account
    await engine.dispose()


async def add_keywords(c, site, headers, *words: str) -> None:
    answer = await c.post(
        f"/sites/{site}/keywords",
        json=list(words),
        headers=headers,
    )
    assert answer.json()["imported"] == len(words)


async def test_a_cursor_walk_sees_every_keyword_once_while_keywords_are_added(api):
    c, _, site, headers, _ = api
    for n in range(3):  # three imports: three created_at values, two rows sharing each
        await add_keywords(c, site, headers, f"first {n}a", f"first {n}b")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = (await c.get(f"/sites/{site}/keywords", params=params, headers=headers)).json()
        seen += [k["keyword"] for k in answer["items"]]
        pages += 1
        if pages == 1:  # rows added after the walk began come at its end, nothing shifts
            await add_keywords(c, site, headers, "late a", "late b", "late c")
            assert answer["next_offset"] == 2  # the first page was read by offset (0)
        else:
            assert answer["next_offset"] is None  # a page read by cursor continues by cursor
        if not answer["has_more"]:
            assert answer["next_cursor"] is None
            break
        cursor = answer["next_cursor"]
    assert len(seen) == len(set(seen)) == 9
    assert set(seen[-3:]) == {"late a", "late b", "late c"}


async def test_a_cursor_page_does_not_shift_when_an_earlier_row_is_deleted(api):
    c, _, site, headers, _ = api
    await add_keywords(c, site, headers, "a", "b")
    await add_keywords(c, site, headers, "c", "d")
    first = (await c.get(f"/sites/{site}/keywords?limit=2", headers=headers)).json()
    await c.delete(f"/sites/{site}/keywords/{first['items'][0]['keyword_id']}", headers=headers)
    by_offset = (await c.get(f"/sites/{site}/keywords?limit=2&offset=2", headers=headers)).json()
    by_cursor = (
        await c.get(
            f"/sites/{site}/keywords",
            params={"limit": 2, "cursor": first["next_cursor"]},
            headers=headers,
        )
    ).json()
    assert len(by_offset["items"]) == 1  # the offset skipped a row nobody has seen
    assert {k["keyword"] for k in by_cursor["items"]} == {"c", "d"}


async def test_other_library_lists_page_by_cursor_too(api):
    c, engine, site, headers, account = api
    async with engine.begin() as conn:
        for n in range(3):
            await conn.execute(
                sa.insert(clusters).values(
                    cluster_id=uuid.uuid4(),
                    account_id=account,
                    site_id=site,
                    name=f"cluster {n}",
                    created_at=datetime(2026, 1, 1 + n, tzinfo=UTC),
                )
            )
    first = (await c.get(f"/sites/{site}/clusters?limit=2", headers=headers)).json()
    assert [x["name"] for x in first["items"]] == ["cluster 0", "cluster 1"]
    rest = (
        await c.get(
            f"/sites/{site}/clusters",
            params={"cursor": first["next_cursor"]},
            headers=headers,
        )
    ).json()
    assert [x["name"] for x in rest["items"]] == ["cluster 2"]
    assert (rest["has_more"], rest["next_cursor"]) == (False, None)


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("path", ["ideas", "runs"])
@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "bm90fGE=",  # base64 of "not|a"
        "MjAyNi0wMS0wMVQwMDowMDowMHwx",  # a naive time and no uuid
        # a time that leaves the calendar once in UTC: the database refused it (a generic 422)
        _cursor(f"0001-01-01T00:00:00+01:00|{uuid.UUID(int=1)}"),
        _cursor(f"9999-12-31T23:59:59-01:00|{uuid.UUID(int=1)}"),
    ],
)
async def test_a_cursor_the_api_did_not_hand_out_is_a_422_of_its_own(api, path, cursor):
    c, _, site, headers, _ = api
    answer = await c.get(f"/sites/{site}/{path}", params={"cursor": cursor}, headers=headers)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("cursor_invalid", "cursor")
    assert "next_cursor" in error["message"]


async def add_runs(engine, account, site, *days: int) -> list[uuid.UUID]:
    """Ended runs made on the given days (two on one day share a created_at)."""
    made = []
    async with engine.begin() as conn:
        for day in days:
            run_id = uuid.uuid4()
            await conn.execute(
                sa.insert(runs).values(
                    run_id=run_id,
                    account_id=account,
                    site_id=site,
                    status="completed",
                    stages=[1],
                    config={},
                    created_at=datetime(2026, 1, day, tzinfo=UTC),
                )
            )
            made.append(run_id)
    return made


async def test_the_runs_list_pages_by_cursor_newest_first_while_runs_start(api):
    """The gateway advertises `cursor` for a site's runs; automation ignored it (offset only), so
    a client following `next_cursor` read the first page again and again."""
    c, engine, site, headers, account = api
    made = await add_runs(engine, account, site, 1, 2, 2, 3, 4)
    seen: list[str] = []
    cursor = None
    for pages in range(1, 10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = await c.get(f"/sites/{site}/runs", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [r["run_id"] for r in body["items"]]
        if pages == 1:  # a run started after the walk began comes first: it shifts nothing
            await add_runs(engine, account, site, 5)
            assert body["next_offset"] == 2
        else:
            assert body["next_offset"] is None
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
    assert pages == 3
    assert seen[:1] == [str(made[4])] and seen[-1] == str(made[0])  # newest first
    assert sorted(seen) == sorted(str(r) for r in made)  # each once, the late one not at all
    by_offset = await c.get(f"/sites/{site}/runs", params={"offset": 1}, headers=headers)
    assert len(by_offset.json()["items"]) == 5
    both = await c.get(
        f"/sites/{site}/runs", params={"offset": 1, "cursor": cursor}, headers=headers
    )
    assert both.status_code == 422


async def test_cursor_and_offset_together_are_refused(api):
    c, _, site, headers, _ = api
    await add_keywords(c, site, headers, "a", "b", "c")
    first = (await c.get(f"/sites/{site}/keywords?limit=1", headers=headers)).json()
    answer = await c.get(
        f"/sites/{site}/keywords",
        params={"cursor": first["next_cursor"], "offset": 1},
        headers=headers,
    )
    assert answer.status_code == 422
