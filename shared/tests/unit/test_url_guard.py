"""The SSRF guard refuses hostile URLs and admits the explicitly allow-listed local one."""

from __future__ import annotations

import httpx
import pytest

from igny8.net import BlockedUrl, UrlGuard
from igny8.net.url_guard import keeps_secrets

HOSTILE = [
    "http://127.0.0.1/",
    "http://localhost:8080/wp-json/",
    "http://127.1/",  # short form
    "http://0x7f.0.0.1/",  # hex octet
    "http://0x7f000001/",  # hex integer
    "http://2130706433/",  # decimal integer
    "http://017700000001/",  # octal integer
    "http://0177.0.0.1/",  # octal octet
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/",  # link-local v6
    "http://[fd00::1]/",  # unique-local v6
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/admin",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://224.0.0.1/",  # multicast
    "ftp://example.com/file",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/",
    "http://user:pass@example.com/",
    "http://no-such-host.invalid/",
    "https:///missing-host",
    "http://example.com:99999/",
]

# IPv6 forms that carry an IPv4 address (or are only meaningful inside a private network):
# Python's `is_global` calls all of these public.
EMBEDDED = [
    "http://[64:ff9b::7f00:1]/",  # NAT64 well-known prefix → 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 → 169.254.169.254 (cloud metadata)
    "http://[64:ff9b::10.0.0.5]/",  # NAT64, dotted
    "http://[64:ff9b:1::a00:5]/",  # NAT64 local-use prefix (RFC 8215)
    "http://[2002:7f00:1::1]/",  # 6to4 → 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 → 169.254.169.254
    "http://[2002:c0a8:101::1]/",  # 6to4 → 192.168.1.1
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[::a9fe:a9fe]/",  # IPv4-compatible, hex
    "http://[::8.8.8.8]/",  # IPv4-compatible is never a real destination
    "http://[::ffff:0:127.0.0.1]/",  # IPv4-translated (SIIT)
    "http://[::ffff:0:a00:5]/",
    "http://[fec0::1]/",  # site-local (deprecated, private by intent)
    "http://[fec0:0:0:ffff::1]/",
]


@pytest.mark.parametrize("url", HOSTILE)
async def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedUrl):
        await UrlGuard().check(url)


@pytest.mark.parametrize("url", EMBEDDED)
async def test_ipv6_embedding_a_non_public_ipv4_address_is_refused(url: str) -> None:
    with pytest.raises(BlockedUrl):
        await UrlGuard().check(url)


async def test_embedded_public_ipv4_addresses_pass_through_nat64_and_6to4() -> None:
    for url in ("http://[64:ff9b::808:808]/", "http://[2002:808:808::1]/"):
        assert (await UrlGuard().check(url)).host


async def test_allow_list_matches_the_embedded_ipv4_address() -> None:
    guard = UrlGuard(["127.0.0.0/8"])
    assert (await guard.check("http://[64:ff9b::7f00:1]/")).address == "64:ff9b::7f00:1"
    with pytest.raises(BlockedUrl):
        await guard.check("http://[64:ff9b::a00:5]/")


async def test_at_least_twenty_hostile_urls_are_covered() -> None:
    assert len(HOSTILE) >= 20


async def test_allow_list_admits_local_development_addresses_only() -> None:
    guard = UrlGuard(["127.0.0.1/32"])
    checked = await guard.check("http://127.0.0.1:8080/wp-json/")
    assert checked.address == "127.0.0.1"
    with pytest.raises(BlockedUrl):
        await guard.check("http://10.1.2.3/")
    named = UrlGuard(["localhost"])
    assert (await named.check("http://localhost:9/")).host == "localhost"


async def test_public_literal_addresses_pass() -> None:
    checked = await UrlGuard().check("https://93.184.216.34/")
    assert checked.address == "93.184.216.34"


@pytest.mark.parametrize(
    ("source", "target", "kept"),
    [
        ("https://a.example/x", "https://a.example/y", True),
        ("http://a.example/x", "https://a.example/y", True),  # upgrade, default ports
        ("https://a.example/x", "http://a.example/y", False),  # downgrade
        ("https://a.example/x", "https://b.example/y", False),  # another host
        ("https://a.example/x", "https://a.example:8443/y", False),  # another port
        ("http://a.example:8080/x", "https://a.example/y", False),  # not a plain upgrade
        ("https://A.example/x", "https://a.EXAMPLE:443/y", True),  # same origin spelled apart
    ],
)
def test_secrets_stay_within_the_origin(source: str, target: str, kept: bool) -> None:
    assert keeps_secrets(httpx.URL(source), httpx.URL(target)) is kept
