"""Shopify Admin GraphQL client: shop check with scopes, blogs and articles inventory."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from igny8.contracts.sites import InventoryItem
from igny8.net.url_guard import GuardedHttp
from igny8.platforms.base import (
    Budget,
    ConnectionCheck,
    InventoryLimits,
    PlatformFailure,
    call,
    deadline,
)

API_VERSION = "2025-01"
WRITE_ARTICLES = "write_content"
SHOP_QUERY = "{ shop { name } currentAppInstallation { accessScopes { handle } } }"
ARTICLES_QUERY = """query($after: String) {
  articles(first: 100, after: $after) {
    nodes { id title handle summary updatedAt blog { handle } }
    pageInfo { hasNextPage endCursor }
  }
}"""


class ShopifyClient:
    def __init__(self, http: GuardedHttp, max_throttle_waits: int = 5) -> None:
        self._http = http
        self._max_throttle_waits = max_throttle_waits

    async def graphql(
        self, base_url: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The `data` of a GraphQL answer; `PlatformFailure` for refusals, errors, throttling that
        does not end, or a malformed answer."""
        return (await self._exchange(base_url, token, query, variables))[0]

    async def _exchange(
        self, base_url: str, token: str, query: str, variables: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], int]:
        url = f"{base_url.rstrip('/')}/admin/api/{API_VERSION}/graphql.json"
        headers = {"X-Shopify-Access-Token": token, "Content-Type": "application/json"}
        for _ in range(self._max_throttle_waits + 1):
            answer = await call(
                lambda: self._http.request(
                    "POST",
                    url,
                    headers=headers,
                    json={"query": query, "variables": variables or {}},
                )
            )
            if answer.status_code in (401, 403):
                raise PlatformFailure("bad_credentials", "the access token was refused")
            if answer.status_code == 404:
                raise PlatformFailure("no_admin_api", "no Shopify Admin API at this URL")
            if answer.status_code != 200:
                raise PlatformFailure("unexpected_response", f"HTTP {answer.status_code}")
            try:
                body = answer.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise PlatformFailure("unexpected_response", "the answer is not a JSON object")
            errors = body.get("errors") or []
            if not isinstance(errors, list):
                errors = [{"message": str(errors)}]
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                status = ((body.get("extensions") or {}).get("cost") or {}).get(
                    "throttleStatus"
                ) or {}
                needed = 100.0
                rate = float(status.get("restoreRate") or 50.0)
                available = float(status.get("currentlyAvailable") or 0.0)
                await asyncio.sleep(min(max(needed - available, 0.0) / rate, 10.0))
                continue
            if errors:
                raise PlatformFailure(
                    "unexpected_response", "; ".join(e.get("message", "") for e in errors)[:300]
                )
            data = body.get("data") or {}
            if not isinstance(data, dict):
                raise PlatformFailure("unexpected_response", "data is not an object")
            return data, len(answer.content)
        raise PlatformFailure("rate_limited", "the shop kept throttling")

    async def test(self, base_url: str, credentials: dict[str, str]) -> ConnectionCheck:
        token = credentials.get("access_token", "")
        if not token:
            return ConnectionCheck(False, "bad_credentials", "access_token is required")
        try:
            data = await self.graphql(base_url, token, SHOP_QUERY)
        except PlatformFailure as failure:
            return ConnectionCheck(False, failure.reason, failure.detail)
        scopes = {
            s["handle"]
            for s in ((data.get("currentAppInstallation") or {}).get("accessScopes") or [])
        }
        if WRITE_ARTICLES not in scopes:
            return ConnectionCheck(
                False,
                "missing_permissions",
                f"scope {WRITE_ARTICLES} is required to write articles",
            )
        return ConnectionCheck(True, "ok", f"shop {(data.get('shop') or {}).get('name', '')}")

    async def inventory(
        self,
        base_url: str,
        credentials: dict[str, str],
        limits: InventoryLimits | None = None,
    ) -> list[InventoryItem]:
        """Every article, bounded by `limits` (pages, items, bytes, total time)."""
        budget = Budget(limits or InventoryLimits())
        token = credentials.get("access_token", "")
        items: list[InventoryItem] = []
        after: str | None = None
        async with deadline(budget.limits.max_seconds):
            while True:
                budget.next_page()
                data, size = await self._exchange(base_url, token, ARTICLES_QUERY, {"after": after})
                articles = data.get("articles") or {}
                nodes = articles.get("nodes") or []
                budget.bytes += size
                budget.count(len(nodes))
                items.extend(_article(base_url, node) for node in nodes)
                page = articles.get("pageInfo") or {}
                if not page.get("hasNextPage"):
                    return items
                after = page.get("endCursor")


def _article(base_url: str, node: Any) -> InventoryItem:
    try:
        updated = node.get("updatedAt")
        return InventoryItem(
            kind="article",
            remote_id=node["id"],
            title=node.get("title", ""),
            url=_article_url(base_url, node),
            excerpt=(node.get("summary") or "")[:500],
            modified_at=datetime.fromisoformat(updated.replace("Z", "+00:00")) if updated else None,
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PlatformFailure(
            "unexpected_response", f"an article is malformed: {exc}"[:300]
        ) from None


def _article_url(base_url: str, node: dict[str, Any]) -> str:
    blog = (node.get("blog") or {}).get("handle", "")
    return f"{base_url.rstrip('/')}/blogs/{blog}/{node.get('handle', '')}"
