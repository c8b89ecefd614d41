"""The shared finished stack (`tests/finished_stack.py`) holds what it promises: a customer made
through the gateway, a completed run charged exactly what it used, every article published once
to the site's destination, and nothing of it visible to a stranger."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_the_run_completed_and_every_article_is_published_exactly_once(finished_stack):
    s = finished_stack
    assert s.run["status"] == "completed"
    assert all(s.run["stage_results"][str(n)]["status"] == "completed" for n in range(1, 7))
    assert sorted(p["content_id"] for p in s.publications) == s.content_ids, "one each"
    assert all(p["remote_id"] and p["remote_url"] for p in s.publications)
    pages = sorted(s.export_folder.glob("*.md"))
    assert len(pages) == len(s.content_ids), [p.name for p in pages]
    assert sorted(p["remote_id"] for p in s.publications) == [p.name for p in pages]
    for page in pages:
        text = page.read_text()
        assert text.startswith("---\n") and "title:" in text
        # the featured and the inline image were fetched from automation and written beside it
        assert "images:" in text
    assert len(list(s.export_folder.rglob("*.png"))) == 2 * len(pages)


async def test_the_run_was_charged_what_it_used_and_no_hold_remains(finished_stack):
    s = finished_stack
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(100):  # the release travels through Kafka after the run ends
            balance = (await client.get(f"{s.v1}/credits/balance", headers=s.headers())).json()
            if balance["held"] == 0:
                break
            await asyncio.sleep(0.2)
    assert balance["held"] == 0
    assert s.run["credits_charged"] > 0
    assert balance["available"] == 100_000 - s.run["credits_charged"]


async def test_a_stranger_sees_nothing_of_it(finished_stack):
    s = finished_stack
    stranger = {"Authorization": f"Bearer {s.user_token('stranger')}"}
    async with httpx.AsyncClient(timeout=30) as client:
        own = await client.post(f"{s.v1}/accounts", json={"name": "Other"}, headers=stranger)
        assert own.status_code == 201, own.text
        theirs = {**stranger, "X-Account-Id": str(own.json()["account_id"])}
        for path in (
            f"/sites/{s.site_id}",
            f"/runs/{s.run_id}",
            f"/sites/{s.site_id}/publications",
            f"/sites/{s.site_id}/content",
        ):
            answer = await client.get(f"{s.v1}{path}", headers=theirs)
            assert answer.status_code == 404, (path, answer.status_code, answer.text)
        # and naming the customer's account without being a member is refused
        refused = await client.get(
            f"{s.v1}/sites/{s.site_id}", headers={**stranger, "X-Account-Id": s.account_id}
        )
        assert refused.status_code in (403, 404)
