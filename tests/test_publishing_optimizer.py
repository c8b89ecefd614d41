"""The AI optimizer against the real parts (issue 10 §2), on the shared finished stack: asked through
the gateway, paid through billing's credit saga (reserve → capture → release over Kafka), the model
call through the OpenAI adapter to the development AI server. It rewrites what the failing checks
name, keeps the better version, stores the scores and the diff, charges exactly the reserved
quantity's price once, and re-publishes the article; a repeated request is the same optimization;
a failed model call charges nothing and releases the hold.

It changes one article of the shared stack (optimized and re-published) and waits until that
article is published again, so tests after it find every publication published."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
TERMINAL = {"completed", "failed", "rejected", "stale"}


async def _until(probe, what: str, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} not reached in {timeout}s")


async def _balance(client: httpx.AsyncClient, s: Any) -> dict:
    async def settled() -> dict | None:
        balance = (await client.get(f"{s.v1}/credits/balance", headers=s.headers())).json()
        return balance if balance["held"] == 0 else None

    return await _until(settled, "no credits held")


async def _finished(client: httpx.AsyncClient, s: Any, optimization_id: str) -> dict:
    async def done() -> dict | None:
        answer = await client.get(
            f"{s.v1}/sites/{s.site_id}/optimizations/{optimization_id}", headers=s.headers()
        )
        assert answer.status_code == 200, answer.text
        found = answer.json()
        return found if found["status"] in TERMINAL else None

    return await _until(done, f"optimization {optimization_id} ending")


async def test_the_optimizer_improves_an_article_charges_once_and_republishes_it(finished_stack):
    s = finished_stack
    content_id = s.content_ids[0]
    async with httpx.AsyncClient(timeout=30) as client:
        before = (
            await client.get(
                f"{s.v1}/sites/{s.site_id}/articles/{content_id}/report", headers=s.headers()
            )
        ).json()
        balance_before = await _balance(client, s)
        first = await client.post(
            f"{s.v1}/sites/{s.site_id}/articles/{content_id}/optimize", headers=s.headers()
        )
        assert first.status_code == 202, first.text
        again = await client.post(
            f"{s.v1}/sites/{s.site_id}/articles/{content_id}/optimize", headers=s.headers()
        )
        assert again.status_code == 202, "a repeated request is the same optimization"
        assert again.json()["optimization_id"] == first.json()["optimization_id"]
        requested = first.json()
        assert requested["score_before"] == before["score"]
        assert requested["checks"], "the failing checks it was asked to fix"
        done = await _finished(client, s, requested["optimization_id"])
        assert done["status"] == "completed", done
        assert done["kept"] is True and done["score_after"] > done["score_before"], done
        parts = {change["part"] for change in done["diff"]}
        assert parts & {"seo_title", "meta_description", "introduction", "subheading"}, done
        for change in done["diff"]:
            assert change["before"] != change["after"]

        # the article now is the better version: its report says the score after
        after = (
            await client.get(
                f"{s.v1}/sites/{s.site_id}/articles/{content_id}/report", headers=s.headers()
            )
        ).json()
        assert after["score"] == done["score_after"]

        # charged exactly once, at the price of the words reserved, and nothing more is held
        prices = {
            p["operation"]: p
            for p in (await client.get(f"{s.v1}/prices", headers=s.headers())).json()["prices"]
        }
        price = prices["optimization"]
        expected = max(
            price["minimum_credits"], math.ceil(done["quantity"] / 200) * price["credits_per_unit"]
        )
        assert done["credits"] == expected
        balance_after = await _balance(client, s)
        assert balance_before["available"] - balance_after["available"] == expected

        # a further request for the same article version answers the finished one (no charge)
        repeat = await client.post(
            f"{s.v1}/sites/{s.site_id}/articles/{content_id}/optimize", headers=s.headers()
        )
        assert repeat.status_code == 202
        assert repeat.json()["optimization_id"] == done["optimization_id"]

        # the better version reached the site: the export carries the new SEO title or meta
        new_values = [
            c["after"] for c in done["diff"] if c["part"] in ("seo_title", "meta_description")
        ]

        async def republished() -> bool:
            pubs = (
                await client.get(
                    f"{s.v1}/sites/{s.site_id}/publications",
                    params={"content_id": content_id},
                    headers=s.headers(),
                )
            ).json()["items"]
            if not pubs or any(p["status"] != "published" for p in pubs):
                return False
            page = s.export_folder / pubs[0]["remote_id"]
            return all(v.split(":")[0] in page.read_text() for v in new_values)

        await _until(republished, "the optimized article re-published")

        # another account never sees it
        stranger = {"Authorization": f"Bearer {s.user_token('optimizer-stranger')}"}
        own = await client.post(f"{s.v1}/accounts", json={"name": "Other"}, headers=stranger)
        theirs = {**stranger, "X-Account-Id": str(own.json()["account_id"])}
        hidden = await client.get(
            f"{s.v1}/sites/{s.site_id}/optimizations/{done['optimization_id']}", headers=theirs
        )
        assert hidden.status_code == 404


async def test_a_failed_model_call_charges_nothing_and_releases_the_hold(finished_stack):
    s = finished_stack
    content_id = s.content_ids[-1]
    ai = s.urls["ai"]
    async with httpx.AsyncClient(timeout=30) as client:
        balance_before = await _balance(client, s)
        await client.post(f"{ai}/dev/faults", json={"fail_rate": 1.0, "modes": ["refusal"]})
        try:
            answer = await client.post(
                f"{s.v1}/sites/{s.site_id}/articles/{content_id}/optimize", headers=s.headers()
            )
            assert answer.status_code == 202, answer.text
            done = await _finished(client, s, answer.json()["optimization_id"])
        finally:
            await client.post(f"{ai}/dev/faults", json={"fail_rate": 0})
        assert done["status"] == "failed" and done["reason"] == "ai_AIRefused", done
        assert done["credits"] == 0 and done["score_after"] is None
        balance_after = await _balance(client, s)
        assert balance_after["available"] == balance_before["available"], "nothing charged"
        # a failed optimization may be asked for again: a new one
        retry = await client.post(
            f"{s.v1}/sites/{s.site_id}/articles/{content_id}/optimize", headers=s.headers()
        )
        assert retry.status_code == 202
        assert retry.json()["optimization_id"] != done["optimization_id"]
        await _finished(client, s, retry.json()["optimization_id"])


async def test_an_unknown_article_is_404(finished_stack):
    s = finished_stack
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            f"{s.v1}/sites/{s.site_id}/articles/00000000-0000-4000-8000-000000000000/optimize",
            headers=s.headers(),
        )
    assert answer.status_code == 404
