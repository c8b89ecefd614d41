"""Library lists page by keyset: `cursor=next_cursor` walks a list while rows are added and
deleted between pages without skipping or repeating one (an offset shifts); `offset` still works."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import clusters, known_sites
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


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "bm90fGE="},  # base64 of "not|a"
        {"cursor": "MjAyNi0wMS0wMVQwMDowMDowMHwx"},  # a naive time and no uuid
    ],
)
async def test_a_cursor_the_api_did_not_hand_out_is_a_422(api, params):
    c, _, site, headers, _ = api
    answer = await c.get(f"/sites/{site}/ideas", params=params, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "parameter_invalid"


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
