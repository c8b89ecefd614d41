"""What the platform clients share: typed failures, connection checks, rate-limit waits."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from igny8.net.url_guard import BlockedUrl, ResponseTooLarge


class PlatformFailure(Exception):
    """A platform could not be used; `reason` is a stable code (`bad_credentials`,
    `missing_permissions`, `no_rest_api`, `no_admin_api`, `application_passwords_disabled`,
    `tls_error`, `timeout`, `unreachable`, `blocked_url`, `rate_limited`, `unexpected_response`, …)
    and `detail` is for people."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer of a connection test: never an exception for a failing site."""

    success: bool
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class InventoryLimits:
    """Bounds of one inventory read: a site cannot keep a sync busy, or fill memory, forever.
    Exceeding one fails the read (`too_large` or `timeout`) — never a partial inventory, which
    would look like removed items."""

    max_pages: int = 200
    max_items: int = 20_000
    max_bytes: int = 64 * 1024 * 1024
    max_seconds: float = 300.0


class Budget:
    """Counts what an inventory read has used against its limits."""

    def __init__(self, limits: InventoryLimits) -> None:
        self.limits = limits
        self.pages = self.items = self.bytes = 0

    def next_page(self) -> None:
        self.pages += 1
        if self.pages > self.limits.max_pages:
            raise PlatformFailure("too_large", f"more than {self.limits.max_pages} pages")

    def received(self, response: httpx.Response, items: int) -> None:
        self.bytes += len(response.content)
        self.count(items)

    def count(self, items: int) -> None:
        self.items += items
        if self.items > self.limits.max_items:
            raise PlatformFailure("too_large", f"more than {self.limits.max_items} items")
        if self.bytes > self.limits.max_bytes:
            raise PlatformFailure("too_large", f"more than {self.limits.max_bytes} bytes")


@asynccontextmanager
async def deadline(seconds: float, what: str = "the sync") -> AsyncIterator[None]:
    """Bound a whole exchange with a site (a slow drip resets per-read timeouts forever)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise PlatformFailure("timeout", f"{what} took longer than {seconds:g} s") from None


async def call(
    send: Callable[[], Awaitable[httpx.Response]],
    max_retries: int = 5,
    max_wait_s: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> httpx.Response:
    """Send, translating transport failures; honour 429 Retry-After a bounded number of times."""
    for _ in range(max_retries + 1):
        try:
            response = await send()
        except BlockedUrl as exc:
            raise PlatformFailure("blocked_url", exc.detail) from None
        except ResponseTooLarge as exc:
            raise PlatformFailure("too_large", str(exc)) from None
        except httpx.TimeoutException:
            raise PlatformFailure("timeout", "the site did not answer in time") from None
        except httpx.ConnectError as exc:
            if (
                isinstance(exc.__cause__, ssl.SSLError)
                or "SSL" in str(exc)
                or "certificate" in str(exc)
            ):
                raise PlatformFailure("tls_error", str(exc)[:200]) from None
            raise PlatformFailure("unreachable", str(exc)[:200]) from None
        except httpx.HTTPError as exc:
            raise PlatformFailure("unreachable", str(exc)[:200]) from None
        if response.status_code != 429:
            return response
        await sleep(min(retry_after(response), max_wait_s))
    raise PlatformFailure("rate_limited", "the site kept answering 429")


def retry_after(response: httpx.Response, default: float = 2.0) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", default)))
    except ValueError:
        return default
