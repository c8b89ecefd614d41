"""Dispatch to the platform clients; turns platform failures into the port's typed failure."""

from __future__ import annotations

from pathlib import Path

from igny8.contracts.sites import InventoryItem
from integration.adapters.platform_http import PlatformFailure
from integration.adapters.shopify_graphql import ShopifyAdmin
from integration.adapters.static_folder import StaticFolder
from integration.adapters.url_guard import GuardedHttp, UrlGuard
from integration.adapters.wordpress_rest import WordPressRest
from integration.domain.model import ConnectionResult, Integration, Platform
from integration.ports import PlatformUnavailable


class PlatformConnectors:
    def __init__(self, guard: UrlGuard, static_root: Path, timeout_s: float = 10.0) -> None:
        self.http = GuardedHttp(guard, timeout_s)
        self.wordpress = WordPressRest(self.http)
        self.shopify = ShopifyAdmin(self.http)
        self.static = StaticFolder(static_root)

    async def test(self, integration: Integration, credentials: dict[str, str]) -> ConnectionResult:
        if integration.platform is Platform.WORDPRESS:
            return await self.wordpress.test(integration.base_url, credentials)
        if integration.platform is Platform.SHOPIFY:
            return await self.shopify.test(integration.base_url, credentials)
        return await self.static.test(integration.settings)

    async def inventory(
        self, integration: Integration, credentials: dict[str, str]
    ) -> list[InventoryItem]:
        try:
            if integration.platform is Platform.WORDPRESS:
                return await self.wordpress.inventory(integration.base_url, credentials)
            if integration.platform is Platform.SHOPIFY:
                return await self.shopify.inventory(integration.base_url, credentials)
            return await self.static.inventory(integration.settings)
        except PlatformFailure as failure:
            raise PlatformUnavailable(failure.reason, failure.detail) from None
