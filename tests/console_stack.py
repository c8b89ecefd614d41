"""The whole platform as processes for the console's browser tests: the five services (the
gateway serving the built console), the development AI server, stripe-mock for billing's
payments, private databases and folders; and the browser side the console tests share (Debian's
Chromium, screenshots, the axe-core scan)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from igny8.testing import ChildProcess, free_port

from stack import wait_http

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CONSOLE_DIST = ROOT / "console" / "dist"
SERVICES = ("billing", "automation", "integration", "publishing", "gateway")
STRIPE_MOCK = ROOT / ".cache" / "go" / "bin" / "stripe-mock"  # built by `make tools`
ARTIFACTS = ROOT / ".artifacts" / "console"
AXE = ROOT / "console" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium (Playwright cannot fetch its own)."""
    async with async_playwright() as p:
        # The article preview is a sandboxed frame; Chromium puts such frames in a process of
        # their own, and on a loaded machine the frame's document was at times still missing to
        # Playwright 30 s later. In one process the sandbox (opaque origin, no scripts) is the same.
        launched = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-features=IsolateSandboxedIframes"],
        )
        yield launched
        await launched.close()


async def new_page(browser) -> Page:  # type: ignore[no-untyped-def]
    # bypass_csp: the test injects axe-core into the page, which the console's CSP forbids
    context = await browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return await context.new_page()


async def signed_in(browser, gateway: str, token: str, account: str, user: str) -> Page:  # type: ignore[no-untyped-def]
    """A page of the console signed in as `user` on `account` (the session a sign-in leaves)."""
    page = await new_page(browser)
    await page.goto(f"{gateway}/")
    await page.evaluate(
        "([t, a, u]) => { sessionStorage.setItem('igny8.token', t);"
        " sessionStorage.setItem('igny8.account', a); sessionStorage.setItem('igny8.user', u); }",
        [token, account, user],
    )
    return page


async def check_page(page: Page, name: str) -> None:
    """A screenshot as an artifact, and no serious or critical axe-core violation."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    await page.add_script_tag(path=str(AXE))
    found = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    bad = [v for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {json.dumps(bad, indent=1)}"


async def start_stripe_mock(tmp: Path) -> tuple[ChildProcess, str]:
    """stripe-mock on loopback ports of its own: billing's checkout sessions come from it."""
    assert STRIPE_MOCK.exists(), f"{STRIPE_MOCK} is missing: run `make tools` (`make test` does)"
    http, https = free_port(), free_port()
    process = ChildProcess(
        [str(STRIPE_MOCK), "-http-addr", f"127.0.0.1:{http}", "-https-addr", f"127.0.0.1:{https}"],
        tmp / "stripe-mock.log",
    )
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", http)) == 0:
                break
        if process.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"stripe-mock did not start:\n{process.output()[-2000:]}")
        await asyncio.sleep(0.05)
    return process, f"http://127.0.0.1:{http}"


def wiring(ports: dict[str, int]) -> dict[str, str]:
    """The same wiring `make run` gives the services (scripts/run_stack.py)."""
    spec = importlib.util.spec_from_file_location("run_stack", ROOT / "scripts" / "run_stack.py")
    assert spec and spec.loader
    run_stack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_stack)
    return dict(run_stack.service_environment({}, ports))


class Platform:
    def __init__(
        self, tmp: Path, bootstrap: str, dbs: dict[str, str], stripe: str | None = None
    ) -> None:
        self.tmp = tmp
        self.ports = {name: free_port() for name in ("ai", *SERVICES)}
        self.url = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.exports = tmp / "exports"
        common = {
            **wiring(self.ports),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "INTEGRATION_STATIC_ROOT": str(self.exports),
            "PUBLISHING_STATIC_ROOT": str(self.exports),
            "AUTOMATION_OPENAI_BASE_URL": f"{self.url['ai']}/v1",
            "AUTOMATION_IMAGE_ROOT": str(tmp / "images"),
            "AUTOMATION_RUN_LOG_ROOT": str(tmp / "runs"),
            "GATEWAY_CONSOLE_DIR": str(CONSOLE_DIST),
            "GATEWAY_CONSOLE_DEV_SIGN_IN": "true",
        }
        if stripe:
            common["BILLING_STRIPE_API_BASE"] = stripe
        for name in SERVICES:
            common[f"{name.upper()}_DATABASE_URL"] = dbs[name]
            common[f"{name.upper()}_CONSUMER_SESSION_TIMEOUT_MS"] = "6000"
        self.env = common
        self.processes: dict[str, ChildProcess] = {}

    def start(
        self, name: str, extra: dict[str, str] | None = None, program: str | None = None
    ) -> ChildProcess:
        """Start `program` (default: `name`) on the port recorded for `name`."""
        if name == "ai":
            args = [str(BIN / "igny8-dev-ai"), "--port", str(self.ports["ai"])]
        else:
            args = [str(BIN / (program or name)), "serve", "--port", str(self.ports[name])]
        process = ChildProcess(args, self.tmp / f"{name}.log", {**self.env, **(extra or {})})
        self.processes[name] = process
        return process

    async def start_all(self) -> None:
        for name in ("ai", *SERVICES):
            self.start(name)
        await wait_http(f"{self.url['ai']}/v1/models", self.processes["ai"], timeout=120)
        for name in SERVICES:
            await wait_http(f"{self.url[name]}/readyz", self.processes[name], timeout=120)

    def logs(self) -> str:
        return "\n".join(f"--- {n}\n{p.output()[-3000:]}" for n, p in self.processes.items())

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
