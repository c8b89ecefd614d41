"""The shared error handling (igny8.webapi) on a real service whose own code does nothing about
it yet: automation, with billing unreachable and with numbers beyond its columns (issue 12).

Automation's HTTP layer is being reshaped on another branch; these tests only use its public
routes and seed one known site, so they hold for the reshaped service too."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import known_sites
from automation.bootstrap import SERVICE_ROOT, bootstrap
from automation.config import AutomationSettings
from igny8.auth import auth_headers
from igny8.db import create_engine
from igny8.runtime import create_app
from igny8.testing import free_port, migrated_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def automation_db(postgres_admin_url: str):
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "shared_errors")


@pytest.fixture
async def site(automation_db, tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, dict, str]]:
    engine = create_engine(automation_db, 5)
    settings = AutomationSettings(
        database_url=automation_db,
        openai_base_url="http://127.0.0.1:9/v1",
        billing_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        image_root=tmp_path / "i",
        run_log_root=tmp_path / "r",
    )
    owner, site_id = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(known_sites).values(
                site_id=site_id,
                account_id=owner,
                version=1,
                deleted=False,
                name="s",
                url="https://s.example",
            )
        )
    app = create_app(bootstrap(settings, engine=engine))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://automation",
    ) as client:
        yield client, auth_headers(None, "gateway", "automation", owner), str(site_id)
    await engine.dispose()


async def test_an_estimate_while_billing_is_unreachable_is_503_with_retry_after(site):
    client, headers, site_id = site
    imported = await client.post(
        f"/sites/{site_id}/keywords",
        content=b'["compost", "mulch"]',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert imported.status_code < 300, imported.text
    answer = await client.post(f"/sites/{site_id}/runs/estimate", headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"]
    error = answer.json()["error"]
    assert error["code"] == "upstream_unavailable"
    assert error["request_id"] == answer.headers["x-request-id"]


async def test_numbers_beyond_the_columns_are_never_a_500(site):
    client, headers, site_id = site
    csv = b"keyword,volume,difficulty,cpc\nbig volume,99999999999999999999,1,1.00\n"
    rows = [
        (csv, "text/csv"),
        (b'[{"keyword": "big cpc", "cpc": 123456789012.55}]', "application/json"),
        (b'[{"keyword": "int32", "volume": 99999999999999}]', "application/json"),
    ]
    for body, media in rows:
        answer = await client.post(
            f"/sites/{site_id}/keywords", content=body, headers={**headers, "Content-Type": media}
        )
        assert answer.status_code < 500, (body, answer.status_code, answer.text)
    await client.post(
        f"/sites/{site_id}/keywords",
        content=b'["small"]',
        headers={**headers, "Content-Type": "application/json"},
    )
    listed = (await client.get(f"/sites/{site_id}/keywords", headers=headers)).json()["items"]
    keyword_id = next(k["keyword_id"] for k in listed if k["keyword"] == "small")
    patched = await client.patch(
        f"/sites/{site_id}/keywords/{keyword_id}", json={"volume": 10**20}, headers=headers
    )
    assert patched.status_code == 422, patched.text
