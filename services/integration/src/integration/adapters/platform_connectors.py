"""Dispatch to the platform clients (in `igny8.platforms`); turns their answers into the port's
types."""

from __future__ import annotations

from pathlib import Path

from igny8.contracts.sites import InventoryItem
from igny8.net import GuardedHttp, UrlGuard
from igny8.platforms import ConnectionCheck, PlatformFailure, ShopifyClient, WordPressClient
from integration.adapters.static_folder import StaticFolder
from integration.domain.model import ConnectionResult, Integration, Platform
from integration.ports import PlatformUnavailable


def _result(check: ConnectionCheck) -> ConnectionResult:
    return ConnectionResult(check.success, check.reason, check.detail)


class PlatformConnectors:
    def __init__(self, guard: UrlGuard, static_root: Path, timeout_s: float = 10.0) -> None:
        self.http = GuardedHttp(guard, timeout_s)
        self.wordpress = WordPressClient(self.http)
        self.shopify = ShopifyClient(self.http)
        self.static = StaticFolder(static_root)

    async def test(self, integration: Integration, credentials: dict[str, str]) -> ConnectionResult:
        if integration.platform is Platform.WORDPRESS:
            return _result(await self.wordpress.test(integration.base_url, credentials))
        if integration.platform is Platform.SHOPIFY:
            return _result(await self.shopify.test(integration.base_url, credentials))
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
