"""WordPress REST API client: discovery, application-password checks, inventory sync."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx

from igny8.contracts.sites import InventoryItem
from igny8.net.url_guard import GuardedHttp, keeps_secrets
from igny8.platforms.base import (
    Budget,
    ConnectionCheck,
    InventoryLimits,
    PlatformFailure,
    call,
    deadline,
)

LINK_REL = re.compile(r'<([^>]+)>;\s*rel="https://api\.w\.org/"')


class WordPressClient:
    def __init__(self, http: GuardedHttp) -> None:
        self._http = http

    async def _get(self, url: str, auth: str | None = None) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = auth
        return await call(lambda: self._http.request("GET", url, headers=headers))

    async def discover(self, base_url: str) -> str:
        """The REST root, from the `Link` header, else the usual locations.

        Credentials go wherever the root is, so a root the site announces on another origin
        (another host, port, or plain http for an https site) is not taken: the usual locations
        on the site's own origin are tried instead."""
        home = await self._get(base_url)
        found = LINK_REL.search(home.headers.get("link", ""))
        if found:
            announced = urljoin(base_url, str(found.group(1)))
            if keeps_secrets(httpx.URL(base_url), httpx.URL(announced)):
                return announced
        for candidate in (f"{base_url}/wp-json/", f"{base_url}/?rest_route=/"):
            answer = await self._get(candidate)
            if answer.status_code == 200 and _json(answer).get("namespaces"):
                return candidate
        raise PlatformFailure("no_rest_api", "no WordPress REST API found at this URL")

    @staticmethod
    def route(root: str, path: str, params: dict[str, Any] | None = None) -> str:
        query = urlencode(params or {})
        if "rest_route=" in root:  # plain permalinks
            base = root.split("rest_route=")[0] + "rest_route=/" + path
            return f"{base}&{query}" if query else base
        return f"{root.rstrip('/')}/{path}" + (f"?{query}" if query else "")

    async def request(
        self,
        method: str,
        root: str,
        credentials: dict[str, str],
        path: str,
        params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """An authenticated call to `path` (e.g. `wp/v2/posts`) under a root from `discover`;
        transport failures and repeated 429s raise `PlatformFailure`."""
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        headers["Authorization"] = _basic(credentials)
        url = self.route(root, path, params)
        return await call(lambda: self._http.request(method, url, headers=headers, **kwargs))

    async def test(self, base_url: str, credentials: dict[str, str]) -> ConnectionCheck:
        try:
            root = await self.discover(base_url)
            auth = _basic(credentials)
            answer = await self._get(self.route(root, "wp/v2/users/me", {"context": "edit"}), auth)
            body = _json(answer)
            if answer.status_code == 501 or body.get("code") == "application_passwords_disabled":
                return ConnectionCheck(
                    False, "application_passwords_disabled", body.get("message", "")
                )
            if answer.status_code == 401:
                return ConnectionCheck(False, "bad_credentials", body.get("message", ""))
            if answer.status_code == 403:
                return ConnectionCheck(False, "missing_permissions", body.get("message", ""))
            if answer.status_code != 200:
                return ConnectionCheck(False, "unexpected_response", f"HTTP {answer.status_code}")
            capabilities = body.get("capabilities") or {}
            if not capabilities.get("publish_posts"):
                return ConnectionCheck(
                    False, "missing_permissions", "the user cannot publish posts"
                )
            return ConnectionCheck(
                True, "ok", f"authenticated as {body.get('slug', body.get('name', ''))}"
            )
        except PlatformFailure as failure:
            return ConnectionCheck(False, failure.reason, failure.detail)

    async def inventory(
        self,
        base_url: str,
        credentials: dict[str, str],
        limits: InventoryLimits | None = None,
    ) -> list[InventoryItem]:
        """Categories, tags and posts, bounded by `limits` (pages, items, bytes, total time)."""
        budget = Budget(limits or InventoryLimits())
        async with deadline(budget.limits.max_seconds):
            root = await self.discover(base_url)
            auth = _basic(credentials)
            items: list[InventoryItem] = []
            for path, kind in (
                ("wp/v2/categories", "category"),
                ("wp/v2/tags", "tag"),
                ("wp/v2/posts", "post"),
            ):
                page, pages = 1, 1
                while page <= pages:
                    budget.next_page()
                    answer = await self._get(
                        self.route(root, path, {"per_page": 100, "page": page}), auth
                    )
                    if answer.status_code == 401:
                        raise PlatformFailure("bad_credentials", "credentials were refused")
                    if answer.status_code != 200:
                        raise PlatformFailure(
                            "unexpected_response", f"{path}: HTTP {answer.status_code}"
                        )
                    rows = _rows(answer, path)
                    budget.received(answer, len(rows))
                    pages = _total_pages(answer)
                    items.extend(_item(kind, row) for row in rows)
                    page += 1
            return items


def _basic(credentials: dict[str, str]) -> str:
    user = credentials.get("username", "")
    password = credentials.get("application_password", "").replace(" ", "")
    if not user or not password:
        raise PlatformFailure("bad_credentials", "username and application_password are required")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _rows(response: httpx.Response, path: str) -> list[dict[str, Any]]:
    try:
        rows = response.json()
    except ValueError:
        rows = None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise PlatformFailure("unexpected_response", f"{path}: not a list of objects")
    return rows


def _total_pages(response: httpx.Response) -> int:
    try:
        return max(1, int(response.headers.get("x-wp-totalpages", "1") or 1))
    except ValueError:
        raise PlatformFailure("unexpected_response", "X-WP-TotalPages is not a number") from None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _item(kind: str, row: dict[str, Any]) -> InventoryItem:
    def text(value: Any) -> str:
        return str(value.get("rendered", "")) if isinstance(value, dict) else str(value or "")

    try:
        modified = row.get("modified_gmt")
        return InventoryItem(
            kind=kind,
            remote_id=str(row.get("id")),
            title=text(row.get("title") or row.get("name")),
            url=str(row.get("link", "")),
            excerpt=re.sub(r"<[^>]+>", "", text(row.get("excerpt")))[:500],
            modified_at=datetime.fromisoformat(modified).replace(tzinfo=UTC) if modified else None,
        )
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        raise PlatformFailure(
            "unexpected_response", f"a {kind} is malformed: {exc}"[:300]
        ) from None
