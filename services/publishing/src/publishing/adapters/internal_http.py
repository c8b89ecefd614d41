"""Internal HTTP: integration's credentials endpoint and automation's image files.

Both calls carry a service token from publishing and the tenant in `X-Account-Id`; failures
become DestinationFailure (transient unless the answer says it never will work)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from igny8.auth import auth_headers
from igny8.service_keys import SigningKey
from publishing.domain.errors import DestinationFailure

PERMANENT = (401, 403, 404, 422)


class IntegrationCredentials:
    def __init__(
        self, base_url: str, key: Callable[[], SigningKey], timeout_s: float = 10.0
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._timeout = timeout_s

    async def credentials(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> dict[str, str]:
        url = f"{self._base_url}/internal/integrations/{integration_id}/credentials"
        headers = auth_headers(self._key(), "publishing", "integration", account_id)
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.get(url, headers=headers)
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
        self._timeout = timeout_s

    async def fetch(self, account_id: uuid.UUID, url: str) -> tuple[bytes, str]:
        if not url.startswith(self._base_url):
            raise DestinationFailure(
                "image_unavailable", f"{url} is not an automation image URL", permanent=True
            )
        headers = auth_headers(self._key(), "publishing", "automation", account_id)
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                answer = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise DestinationFailure("image_unavailable", f"{url}: {exc!r}"[:300]) from None
        if answer.status_code != 200:
            raise DestinationFailure(
                "image_unavailable",
                f"{url}: HTTP {answer.status_code}",
                permanent=answer.status_code in PERMANENT,
            )
        return answer.content, answer.headers.get("content-type", "image/png").split(";")[0]
