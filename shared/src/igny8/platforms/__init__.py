"""Clients of customers' platforms that more than one service needs (DESIGN §2): WordPress REST
and Shopify Admin GraphQL, both over `igny8.net.GuardedHttp` (the SSRF guard), async, with typed
failures (`PlatformFailure.reason`)."""

from igny8.platforms.base import ConnectionCheck, InventoryLimits, PlatformFailure
from igny8.platforms.shopify import ShopifyClient
from igny8.platforms.wordpress import WordPressClient

__all__ = [
    "ConnectionCheck",
    "InventoryLimits",
    "PlatformFailure",
    "ShopifyClient",
    "WordPressClient",
]
