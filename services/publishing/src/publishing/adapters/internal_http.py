"""Internal HTTP: integration's credentials endpoint and automation's image files.

Both calls carry a service token from publishing and the tenant in `X-Account-Id`; failures
become DestinationFailure (transient unless the answer says it never will work). Each adapter
keeps one HTTP client (per event loop): making one costs ~20 ms of CPU (its TLS context), and
a publish asks for credentials and every image."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping

import httpx

from igny8.auth import auth_headers
from igny8.service_keys import SigningKey
from publishing.domain.errors import DestinationFailure
from publishing.ports import CredentialSource

PERMANENT = (401, 403, 404, 422)


class _Client:
    """One client per event loop (a pooled connection belongs to the loop that opened it)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = timeout_s
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = httpx.AsyncClient(timeout=self._timeout)
            self._loop = loop
        return self._client


class IntegrationCredentials:
    def __init__(
        self, base_url: str, key: Callable[[], SigningKey], timeout_s: float = 10.0
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._client = _Client(timeout_s)

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        return False  # nothing kept here (KeptCredentials keeps them)

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        return await self._fetch(account_id, integration_id)

    async def _fetch(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        url = f"{self._base_url}/internal/integrations/{integration_id}/credentials"
        headers = auth_headers(self._key(), "publishing", "integration", account_id)
        try:
            answer = await self._client().get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise DestinationFailure("credentials_unavailable", repr(exc)[:300]) from None
        if answer.status_code != 200:
            raise DestinationFailure(
                "credentials_unavailable",
                f"integration answered HTTP {answer.status_code}",
                permanent=answer.status_code in PERMANENT,
            )
        found = answer.json().get("credentials") or {}
        return {str(k): str(v) for k, v in found.items()}


class AutomationImages:
    """Image files from automation only: an image URL elsewhere is refused, so the service token
    never travels to another host."""

    def __init__(
        self, base_url: str, key: Callable[[], SigningKey], timeout_s: float = 30.0
    ) -> None:
        self._base_url = base_url.rstrip("/") + "/"
        self._key = key
        self._client = _Client(timeout_s)

    async def fetch(self, account_id: uuid.UUID, url: str) -> tuple[bytes, str]:
        if not url.startswith(self._base_url):
            raise DestinationFailure(
                "image_unavailable", f"{url} is not an automation image URL", permanent=True
            )
        headers = auth_headers(self._key(), "publishing", "automation", account_id)
        try:
            answer = await self._client().get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise DestinationFailure("image_unavailable", f"{url}: {exc!r}"[:300]) from None
        if answer.status_code != 200:
            raise DestinationFailure(
                "image_unavailable",
                f"{url}: HTTP {answer.status_code}",
                permanent=answer.status_code in PERMANENT,
            )
        return answer.content, answer.headers.get("content-type", "image/png").split(";")[0]


class KeptCredentials:
    """Credentials kept in memory for `ttl_s` (never stored, never logged) in front of another
    source: a site's publishes follow each other, and each fetch is a call to integration. A
    rotation reaches us within `ttl_s`; before that, a destination refusing kept ones makes the
    publisher `forget` them and ask again (`Publisher.publish`) — only when they were served
    from here: refused ones just fetched are refused for good."""

    def __init__(
        self,
        source: CredentialSource,
        ttl_s: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl_s = ttl_s
        self._now = now
        # (account, integration) -> (fetched at, credentials, served from here since)
        self._kept: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, dict[str, str], bool]] = {}

    def __repr__(self) -> str:  # never the credentials
        return f"KeptCredentials({self._source!r}, kept={len(self._kept)})"

    def forget(self, integration_id: uuid.UUID, refused: Mapping[str, str]) -> bool:
        # Only the refused copy goes, and the answer is about that copy: two publishes served
        # the same stale copy are both refused, and the first one's fresh fetch is kept by then.
        same = [k for k, v in self._kept.items() if k[1] == integration_id and v[1] == refused]
        just_fetched = any(not self._kept[k][2] for k in same)
        for k in same:
            del self._kept[k]
        again = self._ttl_s > 0 and not just_fetched
        return self._source.forget(integration_id, refused) or again

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        key = (account_id, integration_id)
        kept = self._kept.get(key)
        if kept is not None and self._now() - kept[0] < self._ttl_s:
            self._kept[key] = (kept[0], kept[1], True)
            return dict(kept[1])
        found = await self._source.credentials(account_id, integration_id)
        now = self._now()
        # expired copies go now, not when their integration publishes again (if ever)
        self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self._ttl_s}
        if self._ttl_s > 0:
            self._kept[key] = (now, dict(found), False)
        return found
