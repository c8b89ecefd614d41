"""Dispatch to the platform clients (in `igny8.platforms`); turns their answers into the port's
types."""

from __future__ import annotations

from pathlib import Path

from igny8.contracts.sites import InventoryItem
from igny8.net import GuardedHttp, UrlGuard
from igny8.platforms import (
    ConnectionCheck,
    InventoryLimits,
    PlatformFailure,
    ShopifyClient,
    WordPressClient,
)
from igny8.platforms.base import deadline
from integration.adapters.static_folder import StaticFolder
from integration.domain.model import ConnectionResult, Integration, Platform
from integration.ports import PlatformUnavailable


def _result(check: ConnectionCheck) -> ConnectionResult:
    return ConnectionResult(check.success, check.reason, check.detail)


class PlatformConnectors:
    def __init__(
        self,
        guard: UrlGuard,
        static_root: Path,
        timeout_s: float = 10.0,
        limits: InventoryLimits | None = None,
        max_response_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.http = GuardedHttp(guard, timeout_s, max_response_bytes=max_response_bytes)
        self.limits = limits or InventoryLimits()
        self.wordpress = WordPressClient(self.http)
        self.shopify = ShopifyClient(self.http)
        self.static = StaticFolder(static_root, self.limits.max_items)

    async def test(self, integration: Integration, credentials: dict[str, str]) -> ConnectionResult:
        """Bounded in total time like a sync: a site that drips bytes cannot hold a test."""
        try:
            async with deadline(self.limits.max_seconds, "the connection test"):
                if integration.platform is Platform.WORDPRESS:
                    return _result(await self.wordpress.test(integration.base_url, credentials))
                if integration.platform is Platform.SHOPIFY:
                    return _result(await self.shopify.test(integration.base_url, credentials))
                return await self.static.test(integration.account_id, integration.settings)
        except PlatformFailure as failure:
            return ConnectionResult(False, failure.reason, failure.detail)

    async def inventory(
        self, integration: Integration, credentials: dict[str, str]
    ) -> list[InventoryItem]:
        try:
            if integration.platform is Platform.WORDPRESS:
                return await self.wordpress.inventory(
                    integration.base_url, credentials, self.limits
                )
            if integration.platform is Platform.SHOPIFY:
                return await self.shopify.inventory(integration.base_url, credentials, self.limits)
            return await self.static.inventory(integration.account_id, integration.settings)
        except PlatformFailure as failure:
            raise PlatformUnavailable(failure.reason, failure.detail) from None
