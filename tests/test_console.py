"""The console (issue 14) in headless Chromium (Debian's package, driven by Playwright) against
the real platform: a new user signs in, makes an account and a site, uploads keywords (one line
refused with its reason), estimates and starts a run, watches every stage reach done, approves an
article and sees it published to a static export, and sees the credits drop by what billing
charged. Each main page is screenshotted (.artifacts/console/) and scanned with axe-core."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest
import uvicorn
from console_stack import (
    CONSOLE_DIST,
    ROOT,
    SERVICES,
    Platform,
    check_page,
    chromium,
    new_page,
    signed_in,
    start_stripe_mock,
)
from oidc_issuer import create_issuer
from playwright.async_api import Page, expect

from igny8.auth import auth_headers
from igny8.contracts import TOPICS
from igny8.messaging import ensure_topics
from igny8.testing import free_port, temporary_database, wait_until

from stack import wait_http

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
CAPS = {
    "batch_sizes": {"1": 50},
    "ideas_per_cluster": 1,
    "target_word_count": 300,
    "inline_images": 1,
    "image_size": "32x32",
    "max_items_per_stage": {"2": 2},
}
TOPICS_WORDS = ["compost", "raised bed", "tomato", "mulch"]
GRANTED = 50_000
expect.set_options(timeout=15_000)
# Every document the article preview's frame is given, in order (reset by each page load).
CUT_LABELS = """() => [...document.querySelectorAll('.chart svg')].flatMap((svg) => {
  const box = svg.viewBox.baseVal;
  return [...svg.querySelectorAll('text')].filter((t) => {
    const b = t.getBBox();
    return b.x < 0 || b.y < 0 || b.x + b.width > box.width || b.y + b.height > box.height;
  }).map((t) => t.textContent);
})"""
WATCH_PREVIEW = """
window.__previews = [];
new MutationObserver((records) => {
  const seen = (el) => el.matches && el.matches("iframe.preview")
    && window.__previews.push(el.getAttribute("srcdoc"));
  for (const r of records) {
    if (r.type === "attributes") seen(r.target);
    for (const n of r.addedNodes)
      if (n.nodeType === 1) [n, ...n.querySelectorAll("iframe.preview")].forEach(seen);
  }
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ["srcdoc"]});
"""


def keywords_csv() -> str:
    lines = ["keyword,volume,difficulty,intent"]
    for i, t in enumerate(TOPICS_WORDS):
        lines += [
            f"best {t},{100 + i},{10 + i},informational",
            f"{t} guide,{90 + i},20,informational",
        ]
    lines.insert(3, "broken difficulty,100,500,informational")  # line 4: difficulty over 100
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
async def browser():  # type: ignore[no-untyped-def]
    async with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
async def platform(postgres_admin_url, kafka_bootstrap, tmp_path_factory):
    assert (CONSOLE_DIST / "index.html").is_file(), "build the console first: make console"
    await ensure_topics(kafka_bootstrap, TOPICS)
    tmp = tmp_path_factory.mktemp("console")
    dbs: dict[str, str] = {}
    contexts = [temporary_database(postgres_admin_url, f"{s}_console") for s in SERVICES]
    for name, context in zip(SERVICES, contexts, strict=True):
        dbs[name] = await context.__aenter__()
    stripe, stripe_url = await start_stripe_mock(tmp)
    found = Platform(tmp, kafka_bootstrap, dbs, stripe_url)
    try:
        await found.start_all()
        yield found
    finally:
        found.stop()
        stripe.stop()
        for context in reversed(contexts):
            await context.__aexit__(None, None, None)


async def session_of(page: Page) -> dict[str, str]:
    return await page.evaluate(
        "() => ({token: sessionStorage.getItem('igny8.token'),"
        " account: sessionStorage.getItem('igny8.account')})"
    )


async def test_a_new_user_runs_the_pipeline_approves_an_article_and_sees_it_published(
    platform, browser
):
    gateway = platform.url["gateway"]
    page = await new_page(browser)
    await page.add_init_script(WATCH_PREVIEW)
    user = f"console-{uuid.uuid4().hex[:8]}"

    # -- sign in with a development identity, make an account
    await page.goto(f"{gateway}/")
    await expect(page.get_by_role("heading", name="Sign in to IGNY8")).to_be_visible()
    await check_page(page, "01-sign-in")
    await page.get_by_label("Another user id").fill(user)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    await expect(page.get_by_text("You belong to no account yet")).to_be_visible()
    await page.get_by_label("Account name").fill("Console Gardens")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    await expect(page.get_by_text("No sites yet")).to_be_visible()
    me = await session_of(page)
    account = uuid.UUID(me["account"])
    headers = {"Authorization": f"Bearer {me['token']}", "X-Account-Id": str(account)}

    async with httpx.AsyncClient(timeout=30) as client:
        # the operator grants the new account its credits (billing's platform route)
        granted = await client.post(
            f"{platform.url['billing']}/accounts/{account}/grants",
            json={"credits": GRANTED, "kind": "paid"},
            headers={
                **auth_headers(None, "gateway", "billing", account, ("platform_admin",)),
                "Idempotency-Key": "console-start",
            },
        )
        assert granted.status_code == 201, granted.text

        # -- a site, and a static export folder as its integration
        await page.get_by_label("Name").fill("Console Gardens Blog")
        await page.get_by_label("Address").fill("https://gardens.example")
        await page.get_by_label("Niche").fill("gardening")
        await check_page(page, "02-sites")
        await page.get_by_role("button", name="Add site").click()
        await expect(page.get_by_role("heading", name="Console Gardens Blog")).to_be_visible()
        site = page.url.rstrip("/").split("/")[-1]
        await expect(page.get_by_text("Nothing is connected")).to_be_visible()
        await page.get_by_label("Site address").fill("https://gardens.example")
        await page.get_by_label("Export folder").fill("gardens")
        await page.get_by_role("button", name="Connect").click()
        await expect(page.get_by_text("static · https://gardens.example")).to_be_visible()
        await expect(page.get_by_text("Health")).to_be_visible()
        await check_page(page, "03-site-overview")

        async def known(service: str, path: str) -> bool:
            answer = await client.get(f"{gateway}/v1/sites/{site}/{path}", headers=headers)
            return answer.status_code == 200

        # automation and publishing learn the site and its integration from integration's events
        await wait_until(lambda: known("automation", "config"), 60, 0.2)
        assert (
            await client.put(f"{gateway}/v1/sites/{site}/config", json=CAPS, headers=headers)
        ).status_code == 200

        # -- keywords: a CSV with one bad line, reported with its number and reason
        await page.get_by_role("link", name="Keywords").click()
        await expect(page.get_by_text("No keywords yet")).to_be_visible()
        upload = ROOT / ".artifacts" / "console" / "keywords.csv"
        upload.parent.mkdir(parents=True, exist_ok=True)
        upload.write_text(keywords_csv())
        await page.get_by_label("CSV file").set_input_files(str(upload))
        await page.get_by_role("button", name="Upload").click()
        refused = page.locator("table.row-errors tbody tr")
        await expect(refused).to_have_count(1)
        await expect(refused.locator("td").first).to_have_text("4")
        await expect(refused.locator("td").nth(1)).to_contain_text("difficulty")
        await expect(page.get_by_text(f"{2 * len(TOPICS_WORDS)} imported")).to_be_visible()
        await expect(page.locator("tbody tr", has_text="best compost")).to_be_visible()
        await check_page(page, "04-keywords")

        # -- the estimate first, then the run, live
        await page.get_by_role("link", name="Runs").click()
        await expect(page.get_by_text("No runs yet")).to_be_visible()
        await page.get_by_role("button", name="Estimate the run").click()
        estimate = int(
            (await page.get_by_test_id("estimate-credits").inner_text()).replace(",", "")
        )
        assert estimate > 0
        await check_page(page, "05-estimate")
        await page.get_by_role("button", name="Start the run").click()
        await expect(page.get_by_role("heading", level=1, name=re.compile("^Run "))).to_be_visible()
        run_id = page.url.rstrip("/").split("/")[-1]
        stages = page.locator("li.stage")
        await expect(stages).to_have_count(6)
        for n in range(1, 7):
            await expect(page.locator(f'li.stage[data-stage="{n}"]')).to_have_attribute(
                "data-status", "completed", timeout=240_000
            )
        await expect(page.get_by_test_id("run-status")).to_have_text("completed", timeout=30_000)
        await expect(page.get_by_role("heading", name="Stage results")).to_be_visible()
        # a stage's result reads as a sentence, not as JSON
        result = page.locator('table tr[data-stage="1"] td').nth(2)
        await expect(result).to_contain_text(re.compile(r"\d+ of \d+ done"))
        assert "{" not in await result.inner_text()
        run = (await client.get(f"{gateway}/v1/runs/{run_id}", headers=headers)).json()
        charged = run["credits_charged"]
        assert 0 < charged <= estimate
        await expect(page.get_by_test_id("run-credits")).to_have_text(f"{charged:,}")
        # once the run ended, what it was charged (not "spent so far")
        said = page.locator("p", has=page.get_by_test_id("run-credits"))
        await expect(said).to_contain_text(f"{charged:,} credits charged")
        await expect(said).not_to_contain_text("so far")
        await page.get_by_role("button", name="Show the run's trace").click()
        trace = page.get_by_role("region", name="The run's trace")
        await expect(trace.locator("tbody tr").first).to_be_visible()
        await expect(trace.locator("tbody tr", has_text="stage.completed").first).to_be_visible()
        await check_page(page, "06-run-finished")

        # -- an article: preview, score, approve, published
        await page.get_by_role("link", name="See the articles").click()
        first = page.locator("tbody tr td a").first
        await expect(first).to_be_visible()
        await first.click()
        pending = page.locator('[data-testid="publication"][data-status="pending_approval"]')
        for _ in range(60):  # publishing queues the article from content.ready
            if await pending.count():
                break
            await page.wait_for_timeout(500)
            await page.reload()
        await expect(pending).to_have_count(1)
        preview = page.locator("iframe.preview")
        await expect(preview).to_be_visible()
        # Chromium leaves a sandboxed frame unpainted while its srcdoc is replaced: the console
        # gives the frame its document once, images included (it used to write the text first,
        # then again with the images, and the heading was "hidden" in between).
        await preview.scroll_into_view_if_needed()
        frame = page.frame_locator("iframe.preview")
        await expect(frame.locator("h1, h2").first).to_have_text(re.compile(r"\w"), timeout=30_000)
        await expect(frame.locator("h1, h2").first).to_be_visible()
        await expect(frame.locator("img").first).to_have_attribute("src", re.compile("^data:"))
        written = await page.evaluate("() => window.__previews")
        assert len(set(written)) == 1, [w[:80] if w else w for w in written]
        # the preview's box can be resized (a sandboxed frame cannot be measured from outside)
        resizable = await page.locator(".preview-box").evaluate("e => getComputedStyle(e).resize")
        assert resizable == "vertical"
        # each check by its readable label, its raw name beside it
        title_check = page.locator('tr[data-check="keyphrase_in_title"]')
        await expect(title_check).to_contain_text("Keyphrase in the title")
        await expect(title_check.locator("code")).to_have_text("keyphrase_in_title")
        box = await preview.bounding_box()
        assert box is not None and box["height"] > 100
        await expect(page.get_by_test_id("score")).to_have_text(re.compile(r"^\d+$"))
        await check_page(page, "07-article")
        await pending.get_by_role("button", name="Approve").click()
        published = page.locator('[data-testid="publication"][data-status="published"]')
        await expect(published).to_have_count(1, timeout=60_000)
        # a static export's "live post" is the file it wrote
        path = await published.get_by_test_id("export-path").inner_text()
        assert Path(path).is_relative_to(platform.exports / str(account))
        assert await asyncio.to_thread(Path(path).is_file)
        await expect(frame.locator("img").first).to_have_attribute("src", re.compile("^data:"))
        await check_page(page, "08-article-published")

        # -- credits: down by exactly what billing charged
        balance = (await client.get(f"{gateway}/v1/credits/balance", headers=headers)).json()
        assert balance["held"] == 0
        assert balance["available"] == GRANTED - charged
        await page.get_by_role("link", name="Credits").click()
        await expect(page.get_by_test_id("available")).to_have_text(f"{GRANTED - charged:,}")
        await expect(page.get_by_test_id("held")).to_have_text("0")
        await expect(page.get_by_role("img", name="Credits by operation")).to_be_visible()
        # every label and figure of the charts lies inside its drawing (none cut off)
        cut = await page.evaluate(CUT_LABELS)
        assert not cut, cut
        await expect(page.locator(".chart text", has_text="content generation")).to_have_count(1)
        await check_page(page, "09-credits")


async def test_buying_a_package_sends_the_browser_to_the_providers_checkout(platform, browser):
    """No card form of our own: the console asks billing for a checkout session (stripe-mock
    here) and sends the browser to the session's URL, which the test catches instead of
    loading (stripe-mock's URLs point at no page)."""
    gateway = platform.url["gateway"]
    user = f"buyer-{uuid.uuid4().hex[:8]}"
    code = f"pack-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=30) as client:
        token = (await client.post(f"{gateway}/v1/console/dev-tokens", json={"user": user})).json()[
            "access_token"
        ]
        me = {"Authorization": f"Bearer {token}"}
        made = await client.post(f"{gateway}/v1/accounts", json={"name": "Buyer"}, headers=me)
        assert made.status_code == 201, made.text
        account = made.json()["account_id"]
        operator = auth_headers(None, "gateway", "billing", uuid.UUID(account), ("platform_admin",))
        offered = await client.put(
            f"{platform.url['billing']}/packages",
            json={"code": code, "name": "Starter 5k", "price": 4900, "currency": "usd",
                  "credits": 5000},
            headers=operator,
        )  # fmt: skip
        assert offered.status_code == 200, offered.text
    page = await signed_in(browser, gateway, token, account, user)
    sent_to: list[str] = []

    async def provider(route) -> None:  # type: ignore[no-untyped-def]
        sent_to.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<title>Checkout</title>")

    sessions: list[dict] = []

    async def billing_answer(route) -> None:  # type: ignore[no-untyped-def]
        # read on its way to the page: the page navigates away before its body could be read
        answer = await route.fetch()
        sessions.append(await answer.json())
        await route.fulfill(response=answer)

    await page.route(lambda url: not url.startswith(gateway), provider)
    await page.route(re.compile(r"/v1/invoices/[^/]+/pay$"), billing_answer)
    await page.goto(f"{gateway}/credits")
    card = page.locator("li.card", has_text="Starter 5k")
    await expect(card).to_contain_text("5,000 credits for 49.00 USD")
    await check_page(page, "10-buy-credits")
    await card.get_by_role("button", name="Buy Starter 5k").click()
    await page.wait_for_url(lambda url: not url.startswith(gateway))
    [session] = sessions
    assert session["checkout_url"], session
    assert page.url == session["checkout_url"]
    assert sent_to == [session["checkout_url"]]


async def test_the_console_is_served_at_the_root_and_the_api_keeps_its_paths(platform):
    gateway = platform.url["gateway"]
    async with httpx.AsyncClient(timeout=10) as client:
        page = await client.get(f"{gateway}/sites/{uuid.uuid4()}")
        assert page.status_code == 200 and 'id="app"' in page.text
        assert page.headers["cache-control"] == "no-cache"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        asset = next((CONSOLE_DIST / "assets").glob("*.js")).name
        found = await client.get(f"{gateway}/assets/{asset}")
        assert found.status_code == 200 and "immutable" in found.headers["cache-control"]
        assert (await client.get(f"{gateway}/assets/gone-1234.js")).status_code == 404
        missing = await client.get(f"{gateway}/v1/no-such-route")
        assert missing.status_code == 404 and missing.json()["error"]["type"]
        assert (await client.get(f"{gateway}/healthz")).json()["status"] == "alive"
        assert (await client.get(f"{gateway}/openapi.json")).status_code == 200
        outside = await client.get(f"{gateway}/..%2f..%2fpyproject.toml")
        assert "[project]" not in outside.text


@pytest.fixture(scope="module")
async def issuer(platform):
    """A local OpenID Connect issuer, and a second gateway that trusts it (and only it)."""
    port, gateway_port = free_port(), free_port()
    address = f"http://127.0.0.1:{port}"
    console = f"http://127.0.0.1:{gateway_port}"
    app = create_issuer(address, "igny8-api", {"igny8-console": f"{console}/callback"})
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    platform.ports["gateway-oidc"] = gateway_port
    gateway = platform.start(
        "gateway-oidc",
        {
            "GATEWAY_HTTP_PORT": str(gateway_port),
            "GATEWAY_JWT_DEV_SECRET": "",
            "GATEWAY_CONSOLE_DEV_SIGN_IN": "false",
            "GATEWAY_JWT_ISSUER": address,
            "GATEWAY_JWT_JWKS_URL": f"{address}/jwks",
            "GATEWAY_OIDC_CLIENT_ID": "igny8-console",
        },
        program="gateway",
    )
    try:
        await wait_http(f"{console}/readyz", gateway, timeout=120)
        yield {"issuer": address, "console": console, "app": app}
    finally:
        gateway.stop()
        server.should_exit = True
        await serving


async def test_the_issuer_refuses_a_code_without_its_pkce_verifier(issuer):
    async with httpx.AsyncClient(base_url=issuer["issuer"], timeout=10) as client:
        redirect = f"{issuer['console']}/callback"
        approved = await client.post(
            "/authorize",
            data={
                "user": "mallory",
                "client_id": "igny8-console",
                "redirect_uri": redirect,
                "state": "s",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            },
        )
        code = httpx.URL(approved.headers["location"]).params["code"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "client_id": "igny8-console",
            "code_verifier": "not-the-verifier",
        }
        refused = await client.post("/token", data=form)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


async def test_signing_in_through_the_identity_provider_with_pkce(issuer, browser):
    console = issuer["console"]
    async with httpx.AsyncClient(timeout=10) as client:
        config = (await client.get(f"{console}/v1/console/config")).json()
        assert config["oidc"]["client_id"] == "igny8-console" and not config["dev_sign_in"]
        off = await client.post(f"{console}/v1/console/dev-tokens", json={"user": "eve"})
        assert off.status_code == 404 and off.json()["error"]["code"] == "dev_sign_in_off"
    page = await new_page(browser)
    await page.goto(f"{console}/")
    await expect(page.get_by_text("Development identities")).to_have_count(0)
    await page.get_by_role("button", name="Sign in with 127.0.0.1").click()
    await expect(page.get_by_role("heading", name="Test issuer")).to_be_visible()
    assert "code_challenge_method=S256" in page.url
    await page.get_by_label("User").fill("olivia")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    await expect(page.locator("main").get_by_text("olivia@example.com")).to_be_visible()
    assert issuer["app"].state.issued == ["olivia"]
    # the gateway accepts the issuer's RS256 access token: an account and its (empty) sites
    await page.get_by_label("Account name").fill("Olivia's agency")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_text("No sites yet")).to_be_visible()
    token = await page.evaluate("() => sessionStorage.getItem('igny8.token')")
    assert token and token.count(".") == 2
    assert token not in page.url
