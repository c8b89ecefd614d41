"""Server-side request forgery guard for every call to a user-supplied URL.

http/https only, no credentials in URLs; every A/AAAA record of the host must be a public address
(IPv4-mapped IPv6 unwrapped; odd IPv4 spellings such as `127.1`, `0x7f.1` or `2130706433` are
normalised by the resolver before the check); redirects are followed only after the new target
passes the same check; the connection goes to the address that was checked (Host header and TLS
SNI keep the name), so DNS cannot change the answer in between. An explicit allow-list (hosts or
CIDRs) admits local addresses for development and tests.

IPv6 forms that carry an IPv4 address are judged by that address: IPv4-mapped (`::ffff:a.b.c.d`),
NAT64 with the well-known prefix (`64:ff9b::/96`) and 6to4 (`2002::/16`). Forms that only make sense
inside a private network are refused whatever they carry: NAT64's local-use prefix
(`64:ff9b:1::/48`), IPv4-compatible (`::a.b.c.d`, deprecated) and IPv4-translated
(`::ffff:0:a.b.c.d`) addresses, and site-local `fec0::/10` (Python's `is_global` calls all of
these public).

Secrets (`Authorization`, `X-Shopify-Access-Token`, cookies) follow a redirect only to the same
origin, or from http to https on the same host with default ports: never after a downgrade to
plain http, never to another host or port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ResponseTooLarge(Exception):
    """A response body beyond the client's limit (counted after decompression, read no further)."""


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


NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NEVER_PUBLIC = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "64:ff9b:1::/48",  # NAT64 local-use (RFC 8215)
        "::/96",  # IPv4-compatible (deprecated, RFC 4291 §2.5.5.1), also :: and ::1
        "::ffff:0:0:0/96",  # IPv4-translated (RFC 2765)
        "fec0::/10",  # site-local (deprecated, RFC 3879)
    )
)
SECRET_HEADERS = ("authorization", "proxy-authorization", "x-shopify-access-token", "cookie")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where it stands for one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def _effective(address: IPAddress) -> IPAddress | None:
    """The address whose publicness decides; None when the form itself is never acceptable."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if any(address in network for network in NEVER_PUBLIC):
        return None
    return _embedded_ipv4(address) or address


def _public(address: IPAddress) -> bool:
    effective = _effective(address)
    return effective is not None and effective.is_global and not effective.is_multicast


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, (url.host or "").lower(), url.port or default


def keeps_secrets(source: httpx.URL, target: httpx.URL) -> bool:
    """May a request to `target` carry the secrets that were meant for `source`? Only within the
    same origin, or on an upgrade from http to https on the same host with default ports."""
    scheme, host, port = _origin(source)
    t_scheme, t_host, t_port = _origin(target)
    if host != t_host:
        return False
    if (scheme, port) == (t_scheme, t_port):
        return True
    return (scheme, port, t_scheme, t_port) == ("http", 80, "https", 443)


class UrlGuard:
    def __init__(self, allow: list[str] | tuple[str, ...] = ()) -> None:
        self._hosts = {a.lower() for a in allow if not _is_network(a)}
        self._networks = [ipaddress.ip_network(a, strict=False) for a in allow if _is_network(a)]

    def _allowed(self, host: str, address: IPAddress) -> bool:
        if host in self._hosts:
            return True
        if any(address in network for network in self._networks):
            return True
        embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        return embedded is not None and any(embedded in network for network in self._networks)

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

    def __init__(
        self,
        guard: UrlGuard,
        timeout_s: float = 10.0,
        max_redirects: int = 3,
        verify: ssl.SSLContext | bool = True,
        max_response_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._guard = guard
        self._max_response_bytes = max_response_bytes
        self._timeout = httpx.Timeout(timeout_s)
        self._max_redirects = max_redirects
        self._client = httpx.AsyncClient(
            timeout=self._timeout, follow_redirects=False, verify=verify
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {
            k: v for k, v in (kwargs.pop("headers", None) or {}).items() if k.lower() != "host"
        }
        for _ in range(self._max_redirects + 1):
            checked = await self._guard.check(url)
            pinned = checked.url.copy_with(host=checked.address)
            extensions = {"sni_hostname": checked.host} if checked.url.scheme == "https" else {}
            request = self._client.build_request(
                method,
                pinned,
                headers={**headers, "Host": checked.url.netloc.decode()},
                extensions=extensions,
                **kwargs,
            )
            response = await self._read_bounded(await self._client.send(request, stream=True))
            if not (response.is_redirect and "location" in response.headers):
                return response
            url = urljoin(str(checked.url), response.headers["location"])
            if not keeps_secrets(checked.url, httpx.URL(url)):
                headers = {k: v for k, v in headers.items() if k.lower() not in SECRET_HEADERS}
            if response.status_code in (301, 302, 303):  # the body is not sent again
                method, kwargs = "GET", {}
        raise BlockedUrl("too many redirects")

    async def _read_bounded(self, response: httpx.Response) -> httpx.Response:
        """Read the body, but no more than `max_response_bytes` of it (a hostile site could
        otherwise send gigabytes, or a small gzip bomb)."""
        limit = self._max_response_bytes
        try:
            declared = int(response.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise ResponseTooLarge(f"the response declares {declared} bytes (limit {limit})")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    raise ResponseTooLarge(f"the response exceeds {limit} bytes")
        finally:
            await response.aclose()
        # The body is decoded already: the copy must not announce an encoding to undo.
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=bytes(body),
            request=response.request,
            extensions=response.extensions,
        )
