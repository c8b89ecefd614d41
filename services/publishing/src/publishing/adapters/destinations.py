"""The destination adapters behind one port, chosen by the integration's platform."""

from __future__ import annotations

from pathlib import Path

from igny8.net import GuardedHttp
from publishing.adapters.shopify_graphql import ShopifyDestination
from publishing.adapters.static_export import StaticExport
from publishing.adapters.wordpress_rest import WordPressDestination
from publishing.domain.errors import DestinationFailure
from publishing.ports import Destination


class PlatformDestinations:
    def __init__(self, http: GuardedHttp, static_root: Path) -> None:
        self._by_platform: dict[str, Destination] = {
            "wordpress": WordPressDestination(http),
            "shopify": ShopifyDestination(http),
            "static": StaticExport(static_root),
        }

    def for_platform(self, platform: str) -> Destination:
        try:
            return self._by_platform[platform]
        except KeyError:
            raise DestinationFailure(
                "unsupported_platform", f"no destination for {platform!r}", permanent=True
            ) from None
