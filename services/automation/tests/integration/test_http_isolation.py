"""Automation's HTTP API: unknown and foreign sites and runs answer 404, bad imports 4xx."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import keywords, known_sites
from automation.bootstrap import bootstrap
from automation.config import AutomationSettings
from igny8.auth import auth_headers
from igny8.db import create_engine
from igny8.runtime import create_app

pytestmark = pytest.mark.integration


@dataclass
class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
async def client(automation_db, tmp_path):
    engine = create_engine(automation_db, 5)
    settings = AutomationSettings(
        database_url=automation_db,
        openai_base_url="http://127.0.0.1:9/v1",
        image_root=tmp_path / "i",
        run_log_root=tmp_path / "r",
    )
    app = create_app(bootstrap(settings, engine=engine, clock=Clock()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://automation"
    ) as c:
        yield c, engine
    await engine.dispose()


async def test_every_site_and_run_route_answers_404_for_another_account(client):
    c, engine = client
    owner, stranger, site = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site,
                account_id=owner,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
    own = auth_headers(None, "gateway", "automation", owner)
    other = auth_headers(None, "gateway", "automation", stranger)
    added = await c.post(
        f"/sites/{site}/keywords",
        content=b'["compost", "mulch"]',
        headers={**own, "Content-Type": "application/json"},
    )
    assert added.json()["imported"] == 2
    keyword_id = (await c.get(f"/sites/{site}/keywords", headers=own)).json()["items"][0][
        "keyword_id"
    ]
    routes = [
        ("GET", f"/sites/{site}/config"),
        ("PUT", f"/sites/{site}/config"),
        ("GET", f"/sites/{site}/keywords"),
        ("POST", f"/sites/{site}/keywords"),
        ("GET", f"/sites/{site}/keywords/{keyword_id}"),
        ("PATCH", f"/sites/{site}/keywords/{keyword_id}"),
        ("DELETE", f"/sites/{site}/keywords/{keyword_id}"),
        *(
            ("GET", f"/sites/{site}/{kind}")
            for kind in ("clusters", "ideas", "tasks", "content", "images")
        ),
        ("POST", f"/sites/{site}/runs"),
        ("GET", f"/sites/{site}/runs"),
        ("POST", f"/sites/{site}/runs/estimate"),
    ]
    for method, path in routes:
        body = {} if method in ("PUT", "PATCH") else None
        content = b'["x"]' if path.endswith("/keywords") and method == "POST" else None
        headers = {**other, "Content-Type": "application/json"}
        answer = await c.request(
            method, path, json=body if content is None else None, content=content, headers=headers
        )
        assert answer.status_code == 404, (method, path, answer.status_code, answer.text)
    for path in (f"/runs/{uuid.uuid4()}", f"/runs/{uuid.uuid4()}/trace"):
        assert (await c.get(path, headers=own)).status_code == 404
    assert (await c.get(f"/sites/{site}/keywords", headers=own)).status_code == 200


async def test_unreadable_import_is_a_4xx_with_the_reason(client):
    c, engine = client
    owner, site = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site,
                account_id=owner,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
    answer = await c.post(
        f"/sites/{site}/keywords",
        content=b"{oops",
        headers={
            **auth_headers(None, "gateway", "automation", owner),
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]["message"]


async def test_starting_a_run_without_an_ai_provider_is_refused_clearly(
    automation_db, tmp_path, monkeypatch
):
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AUTOMATION_OPENAI_API_KEY",
        "AUTOMATION_OPENAI_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    engine = create_engine(automation_db, 2)
    settings = AutomationSettings(
        database_url=automation_db,
        image_root=tmp_path,
        run_log_root=tmp_path,
    )
    app = create_app(bootstrap(settings, engine=engine))
    owner, site = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site,
                account_id=owner,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        answer = await c.post(
            f"/sites/{site}/runs", headers=auth_headers(None, "gateway", "automation", owner)
        )
    assert answer.status_code == 503
    assert "AUTOMATION_OPENAI_API_KEY" in answer.json()["error"]["message"]
    await engine.dispose()


async def _own_site(engine) -> tuple[uuid.UUID, uuid.UUID]:
    owner, site = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site,
                account_id=owner,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
    return owner, site


async def test_an_import_of_50000_rows_stores_every_valid_row(client):
    c, engine = client
    owner, site = await _own_site(engine)
    rows = [{"keyword": f"keyword number {n}", "volume": n} for n in range(49_999)]
    rows.append({"keyword": "", "volume": 1})  # an invalid row is a per-line error
    answer = await c.post(
        f"/sites/{site}/keywords",
        content=json.dumps(rows).encode(),
        headers={
            **auth_headers(None, "gateway", "automation", owner),
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["imported"] == 49_999
    assert [e["line"] for e in answer.json()["errors"]] == [50_000]
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(keywords).where(keywords.c.site_id == site)
            )
        ).scalar_one()
    assert stored == 49_999


async def test_an_import_over_the_size_limit_is_413_before_it_is_read(client):
    c, engine = client
    owner, site = await _own_site(engine)
    read: list[int] = []

    async def body():
        for _ in range(12):  # 12 MiB, no Content-Length: refused while streaming
            read.append(1)
            yield b" " * (1024 * 1024)

    answer = await c.post(
        f"/sites/{site}/keywords",
        content=body(),
        headers={
            **auth_headers(None, "gateway", "automation", owner),
            "Content-Type": "application/json",
        },
    )
    assert answer.status_code == 413, answer.text
    declared = await c.post(
        f"/sites/{site}/keywords",
        content=b"[]",
        headers={
            **auth_headers(None, "gateway", "automation", owner),
            "Content-Type": "application/json",
            "Content-Length": str(11 * 1024 * 1024),
        },
    )
    assert declared.status_code == 413
