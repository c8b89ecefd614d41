"""The console's run controls and article review (issue 14) in headless Chromium, on the
session's finished stack (`tests/finished_stack.py`): a tenant of its own there (an account, a
site exporting to a static folder, keywords), so nothing the finished customer has changes.

A run pauses itself at the credit cap set in the console's settings and says why, and is
cancelled; with the cap cleared a run is paused and resumed by hand and completes. Then its
articles are reviewed: one approved, one regenerated (its new version links to the published
one), a link undone, and the new version rejected."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from console_stack import check_page, chromium, signed_in
from playwright.async_api import Page, expect

from igny8.auth import auth_headers

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
expect.set_options(timeout=20_000)
#: Small: three articles, one image each; a pause between stages so a person can pause it.
CAPS = {
    "batch_sizes": {"1": 50},
    "ideas_per_cluster": 1,
    "target_word_count": 300,
    "inline_images": 1,
    "image_size": "32x32",
    "max_items_per_stage": {"2": 3},
    "delay_between_stages_s": 1,
}
TOPICS = ["compost", "raised bed", "tomato"]


@pytest.fixture(scope="module")
async def browser():  # type: ignore[no-untyped-def]
    async with chromium() as launched:
        yield launched


@dataclass(frozen=True)
class Tenant:
    gateway: str
    token: str
    user: str
    account: str
    site: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "X-Account-Id": self.account}

    async def page(self, browser, path: str) -> Page:  # type: ignore[no-untyped-def]
        page = await signed_in(browser, self.gateway, self.token, self.account, self.user)
        await page.goto(f"{self.gateway}{path}")
        return page


async def _until(probe, what: str, timeout: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := await probe():
            return found
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what} not reached within {timeout}s")


@pytest.fixture(scope="module")
async def tenant(finished_stack) -> Tenant:
    s = finished_stack
    user = f"reviewer-{uuid.uuid4().hex[:8]}"
    token = s.user_token(user)
    async with httpx.AsyncClient(timeout=30) as client:
        made = await client.post(
            f"{s.v1}/accounts",
            json={"name": "Review Gardens"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert made.status_code == 201, made.text
        account = str(made.json()["account_id"])
        me = {"Authorization": f"Bearer {token}", "X-Account-Id": account}
        granted = await client.post(
            f"{s.urls['billing']}/accounts/{account}/grants",
            json={"credits": 50_000, "kind": "paid"},
            headers={
                **auth_headers(None, "gateway", "billing", uuid.UUID(account), ("platform_admin",)),
                "Idempotency-Key": f"review-{account}",
            },
        )
        assert granted.status_code == 201, granted.text
        site = await client.post(
            f"{s.v1}/sites",
            json={"name": "Review Gardens", "url": "https://review.example", "niche": "gardening"},
            headers=me,
        )
        assert site.status_code == 201, site.text
        site_id = str(site.json()["site_id"])
        (s.export_folder.parents[1] / account / "review").mkdir(parents=True)
        connected = await client.post(
            f"{s.v1}/sites/{site_id}/integrations",
            json={
                "platform": "static",
                "base_url": "https://review.example",
                "settings": {"folder": "review"},
            },
            headers=me,
        )
        assert connected.status_code == 201, connected.text

        async def known() -> bool:
            for path in ("config", "publishing-settings"):
                answer = await client.get(f"{s.v1}/sites/{site_id}/{path}", headers=me)
                if answer.status_code != 200:
                    return False
            return True

        await _until(known, "automation and publishing learning the site", 60)
        put = await client.put(f"{s.v1}/sites/{site_id}/config", json=CAPS, headers=me)
        assert put.status_code == 200, put.text
        rows = [
            {"keyword": f"{w} {t}", "volume": 100 + i, "difficulty": 20, "intent": "informational"}
            for i, t in enumerate(TOPICS)
            for w in ("best", "how to use")
        ]
        imported = await client.post(
            f"{s.v1}/sites/{site_id}/keywords",
            content=json.dumps({"keywords": rows}),
            headers={**me, "Content-Type": "application/json"},
        )
        assert imported.status_code in (200, 201), imported.text
    return Tenant(s.urls["gateway"], token, user, account, site_id)


async def _start_from_the_console(page: Page) -> str:
    await page.get_by_role("link", name="Runs").click()
    await page.get_by_role("button", name="Estimate the run").click()
    await page.get_by_role("button", name=re.compile("^Start the run")).click()
    await expect(page.get_by_role("heading", level=1, name=re.compile("^Run "))).to_be_visible()
    return page.url.rstrip("/").split("/")[-1]


async def _save_cap(page: Page, cap: str) -> None:
    await page.get_by_role("link", name="Settings").click()
    field = page.get_by_label("Most credits a run may spend")
    await expect(field).to_be_editable()
    await field.fill(cap)
    await page.get_by_role("button", name="Save automation settings").click()
    await expect(page.get_by_text("Automation settings saved.")).to_be_visible()


async def test_a_run_pauses_itself_at_its_cap_says_why_and_is_paused_resumed_and_cancelled(
    tenant, browser
):
    page = await tenant.page(browser, f"/sites/{tenant.site}?tab=settings")
    await expect(page.get_by_role("heading", name="Automation")).to_be_visible()
    await check_page(page, "11-site-settings")
    await _save_cap(page, "1")
    async with httpx.AsyncClient(timeout=30) as client:
        config = (
            await client.get(
                f"{tenant.gateway}/v1/sites/{tenant.site}/config", headers=tenant.headers
            )
        ).json()
    # the form changed its field and kept every other (both APIs replace on PUT)
    assert config["max_credits"] == 1
    assert config["target_word_count"] == 300 and config["delay_between_stages_s"] == 1

    # -- the run stops itself before spending past the cap, and says so
    await page.goto(f"{tenant.gateway}/sites/{tenant.site}?tab=runs")
    capped = await _start_from_the_console(page)
    await expect(page.get_by_test_id("run-status")).to_have_text("paused", timeout=90_000)
    reason = page.get_by_test_id("pause-reason")
    await expect(reason).to_contain_text("The run paused itself: the run reached its credit cap")
    await expect(reason.locator("code")).to_contain_text("credit_cap_reached")
    credits = page.locator("p", has=page.get_by_test_id("run-credits"))
    await expect(credits).to_contain_text("credits spent so far")  # it may go on
    await check_page(page, "12-run-paused-itself")
    await page.get_by_role("button", name="Cancel run").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("cancelled", timeout=60_000)
    await expect(credits).to_contain_text("credits charged")  # it ended: what it cost
    await expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    await expect(page.get_by_role("heading", name="Stage results")).to_be_visible()

    # -- no cap: paused by hand, resumed, and it completes
    await page.goto(f"{tenant.gateway}/sites/{tenant.site}?tab=settings")
    await _save_cap(page, "")
    run_id = await _start_from_the_console(page)
    assert run_id != capped
    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_test_id("run-status")).to_have_text("paused", timeout=60_000)
    await expect(page.get_by_test_id("pause-reason")).to_contain_text("Paused on request")
    # a list opened during the run follows it (it used to keep the statuses it first read)
    clusters = await tenant.page(browser, f"/sites/{tenant.site}?tab=clusters")
    await expect(clusters.get_by_role("heading", name="Clusters")).to_be_visible()
    await page.get_by_role("button", name="Resume").click()
    await expect(page.get_by_test_id("run-status")).not_to_have_text("paused")
    await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=240_000)
    rows = clusters.locator("tbody tr")
    await expect(rows.first).to_be_visible()
    await expect(rows.filter(has_text="planned")).to_have_count(len(TOPICS))
    for n in range(1, 7):
        await expect(page.locator(f'li.stage[data-stage="{n}"]')).to_have_attribute(
            "data-status", "completed"
        )
    async with httpx.AsyncClient(timeout=30) as client:
        runs = (
            await client.get(
                f"{tenant.gateway}/v1/sites/{tenant.site}/runs", headers=tenant.headers
            )
        ).json()["items"]
    statuses = {r["run_id"]: r["status"] for r in runs}
    assert statuses[capped] == "cancelled" and statuses[run_id] == "completed"


@pytest.fixture(scope="module")
async def articles(tenant) -> list[dict]:
    """The tenant's articles, each waiting for approval (manual approval is the default): from
    the run the test above completed, or from one started here when it ran alone."""
    v1 = f"{tenant.gateway}/v1"
    async with httpx.AsyncClient(timeout=30) as client:

        async def runs() -> list[dict]:
            answer = await client.get(f"{v1}/sites/{tenant.site}/runs", headers=tenant.headers)
            return answer.json()["items"]

        if not any(r["status"] == "completed" for r in await runs()):
            for r in await runs():  # a run left over stops first (one run per site at a time)
                if r["status"] not in ("completed", "failed", "cancelled", "rejected"):
                    await client.post(f"{v1}/runs/{r['run_id']}/cancel", headers=tenant.headers)
            await client.put(f"{v1}/sites/{tenant.site}/config", json=CAPS, headers=tenant.headers)
            started = await client.post(
                f"{v1}/sites/{tenant.site}/runs",
                headers={**tenant.headers, "Idempotency-Key": f"review-{tenant.site}"},
            )
            assert started.status_code in (201, 202), started.text

        async def completed() -> bool:
            return any(r["status"] == "completed" for r in await runs())

        await _until(completed, "a completed run", 240)

        async def waiting() -> list[dict] | None:
            answer = await client.get(
                f"{v1}/sites/{tenant.site}/publications",
                params={"limit": 50},
                headers=tenant.headers,
            )
            items = answer.json()["items"]
            ready = len(items) == len(TOPICS) and all(
                p["status"] == "pending_approval" for p in items
            )
            return items if ready else None

        return await _until(waiting, "every article waiting for approval", 120)


async def _open_article(tenant: Tenant, browser, content_id: str) -> Page:  # type: ignore[no-untyped-def]
    page = await tenant.page(browser, f"/sites/{tenant.site}/articles/{content_id}")
    await expect(page.locator("iframe.preview")).to_be_visible()
    return page


async def test_articles_are_approved_regenerated_and_rejected_and_a_link_is_undone(
    tenant, articles, browser
):
    first, second = articles[0], articles[1]
    # -- approve one: it is published, and becomes a page the others may link to
    page = await _open_article(tenant, browser, first["content_id"])
    pending = page.locator('[data-testid="publication"][data-status="pending_approval"]')
    await pending.get_by_role("button", name="Approve").click()
    await expect(
        page.locator('[data-testid="publication"][data-status="published"]')
    ).to_have_count(1, timeout=60_000)

    # -- regenerate another: a small run writes it again, and its new version links to the first
    page = await _open_article(tenant, browser, second["content_id"])
    await expect(page.get_by_text("version 1 ·")).to_be_visible()
    await page.get_by_role("button", name="Regenerate article").click()
    await expect(page.get_by_role("heading", level=1, name=re.compile("^Run "))).to_be_visible()
    await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=180_000)
    await page.goto(f"{tenant.gateway}/sites/{tenant.site}/articles/{second['content_id']}")
    pending = page.locator('[data-testid="publication"][data-status="pending_approval"]')
    undo = page.get_by_role("button", name=re.compile("^Undo the link on"))
    for _ in range(60):  # publishing receives the new version from content.ready
        if await page.get_by_text("version 2 ·").count() and await undo.count():
            break
        await page.wait_for_timeout(500)
        await page.reload()
    await expect(page.get_by_text("version 2 ·")).to_be_visible()
    await expect(undo.first).to_be_visible()
    await check_page(page, "13-article-links")

    # -- undo a link: it is marked undone, and the preview no longer has it
    link = (
        page.locator("section", has=page.get_by_role("heading", name="Internal links"))
        .locator("li")
        .first
    )
    target = await link.get_by_role("link").get_attribute("href")
    frame = page.frame_locator("iframe.preview")
    await expect(frame.locator(f'a[href="{target}"]').first).to_be_attached()
    before = await frame.locator(f'a[href="{target}"]').count()
    await link.get_by_role("button", name=re.compile("^Undo")).click()
    await expect(link).to_contain_text("undone")
    await expect(frame.locator(f'a[href="{target}"]')).to_have_count(before - 1)

    # -- reject the new version
    await pending.get_by_role("button", name="Reject").click()
    rejected = page.locator('[data-testid="publication"][data-status="cancelled"]')
    await expect(rejected).to_have_count(1, timeout=30_000)
    await expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    async with httpx.AsyncClient(timeout=30) as client:
        found = (
            await client.get(
                f"{tenant.gateway}/v1/sites/{tenant.site}/publications",
                params={"content_id": second["content_id"]},
                headers=tenant.headers,
            )
        ).json()["items"]
    assert [p["status"] for p in found] == ["cancelled"]
