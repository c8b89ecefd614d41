"""What automation's library refuses through the gateway, in the one error shape: a keyword
upload of another media type (415), a list's status filter that is not one of its statuses (422,
as an edit with that status is) — on a site automation knows, where these used to be a 400 and an
empty 200 list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from gateway_support import as_user

from automation.adapters.sqlalchemy_tables import known_sites
from gateway.entrypoints.route_table import LISTS
from igny8.db import create_engine

pytestmark = pytest.mark.integration
VALID = {
    "keywords": "new",
    "clusters": "planned",
    "ideas": "queued",
    "tasks": "pending",
    "content": "draft",
}


@pytest.fixture
def known_site(upstream_dbs: dict[str, str]) -> Callable[..., Any]:
    """A site automation has heard of (integration's `site` events put it there)."""

    async def add(account: uuid.UUID) -> uuid.UUID:
        site = uuid.uuid4()
        engine = create_engine(upstream_dbs["automation"], 1)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    sa.insert(known_sites).values(
                        site_id=site,
                        account_id=account,
                        version=1,
                        deleted=False,
                        name="s",
                        url="u",
                    )
                )
        finally:
            await engine.dispose()
        return site

    return add


async def test_a_keyword_upload_of_another_media_type_is_415(gateway, new_account, known_site):
    owner, account = await new_account()
    site = await known_site(account)
    path = f"/v1/sites/{site}/keywords"
    for media in (None, "application/xml", "multipart/form-data; boundary=x"):
        headers = {**as_user(owner, account), **({"Content-Type": media} if media else {})}
        refused = await gateway.post(path, content=b"keyword\nseo tools\n", headers=headers)
        assert refused.status_code == 415, (media, refused.text)
        error = refused.json()["error"]
        assert error["code"] == "unsupported_media_type", error
        assert error["param"] == "Content-Type"
        assert error["request_id"] == refused.headers["x-request-id"]
    sent = {**as_user(owner, account), "Content-Type": "text/csv"}
    taken = await gateway.post(path, content=b"keyword\nseo tools\n", headers=sent)
    assert taken.status_code == 201, taken.text
    unreadable = await gateway.post(path, content=b"no keyword column\n", headers=sent)
    assert unreadable.status_code == 400, unreadable.text  # the file's fault stays a 400
    assert unreadable.json()["error"]["code"] == "unreadable_import"


async def test_a_list_status_filter_must_be_one_of_its_statuses(gateway, new_account, known_site):
    owner, account = await new_account()
    site = await known_site(account)
    headers = as_user(owner, account)
    for kind in LISTS:
        bogus = await gateway.get(f"/v1/sites/{site}/{kind}?status=bogus", headers=headers)
        assert bogus.status_code == 422, (kind, bogus.text)
        error = bogus.json()["error"]
        assert error["code"] == "parameter_invalid" and error["param"] == "status", error
        assert error["request_id"] == bogus.headers["x-request-id"]
        if kind in VALID:  # images have no status: any filter on it is refused
            fine = await gateway.get(
                f"/v1/sites/{site}/{kind}", params={"status": VALID[kind]}, headers=headers
            )
            assert fine.status_code == 200 and fine.json()["items"] == [], (kind, fine.text)
