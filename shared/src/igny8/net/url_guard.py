"""Server-side request forgery guard for every call to a user-supplied URL.

http/https only, no credentials in URLs; every A/AAAA record of the host must be a public address
(IPv4-mapped IPv6 unwrapped; odd IPv4 spellings such as `127.1`, `0x7f.1` or `2130706433` are
normalised by the resolver before the check); redirects are followed only after the new target
passes the same check; the connection goes to the address that was checked (Host header and TLS
SNI keep the name), so DNS cannot change the answer in between. An explicit allow-list (hosts or
CIDRs) admits local addresses for development and tests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedUrl(Exception):
    """A user-supplied URL that points somewhere the platform must not call."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class CheckedUrl:
    url: httpx.URL
    host: str
    address: str


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class UrlGuard:
    def __init__(self, allow: list[str] | tuple[str, ...] = ()) -> None:
        self._hosts = {a.lower() for a in allow if not _is_network(a)}
        self._networks = [ipaddress.ip_network(a, strict=False) for a in allow if _is_network(a)]

    def _allowed(self, host: str, address: IPAddress) -> bool:
        if host in self._hosts:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    async def check(self, url: str) -> CheckedUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BlockedUrl(
                f"scheme {parts.scheme or '(none)'!r} is not allowed; use http or https"
            )
        if parts.username is not None or parts.password is not None:
            raise BlockedUrl("URLs with credentials are not allowed")
        host = (parts.hostname or "").lower()
        if not host:
            raise BlockedUrl("URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise BlockedUrl("URL has an invalid port") from None
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError):
            raise BlockedUrl(f"host {host!r} does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise BlockedUrl(f"host {host!r} has no address")
        for address in addresses:
            if not _public(address) and not self._allowed(host, address):
                raise BlockedUrl(f"{host} resolves to a non-public address ({address})")
        return CheckedUrl(httpx.URL(url), host, str(addresses[0]))


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


class GuardedHttp:
    """An HTTP client for user-supplied URLs: checked, pinned to the checked address, no
    unchecked redirects, explicit timeouts."""

    def __init__(self, guard: UrlGuard, timeout_s: float = 10.0, max_redirects: int = 3) -> None:
        self._guard = guard
        self._timeout = httpx.Timeout(timeout_s)
        self._max_redirects = max_redirects
        self._client = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for _ in range(self._max_redirects + 1):
            checked = await self._guard.check(url)
            pinned = checked.url.copy_with(host=checked.address)
            headers = dict(kwargs.pop("headers", None) or {})
            headers["Host"] = checked.url.netloc.decode()
            extensions = {"sni_hostname": checked.host} if checked.url.scheme == "https" else {}
            response = await self._client.request(
                method, pinned, headers=headers, extensions=extensions, **kwargs
            )
            kwargs["headers"] = headers
            if response.is_redirect and "location" in response.headers:
                url = urljoin(str(checked.url), response.headers["location"])
                headers.pop("Host", None)
                if urlsplit(url).hostname != checked.host:  # never hand secrets to another host
                    for secret in ("Authorization", "X-Shopify-Access-Token"):
                        headers.pop(secret, None)
                if response.status_code in (301, 302, 303):
                    method, kwargs = "GET", {"headers": headers}
                continue
            return response
        raise BlockedUrl("too many redirects")
