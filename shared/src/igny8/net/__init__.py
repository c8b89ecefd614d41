"""Outbound networking to addresses users supply (customer sites): the SSRF guard."""

from igny8.net.url_guard import BlockedUrl, CheckedUrl, GuardedHttp, ResponseTooLarge, UrlGuard

__all__ = ["BlockedUrl", "CheckedUrl", "GuardedHttp", "ResponseTooLarge", "UrlGuard"]
