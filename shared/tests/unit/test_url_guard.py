"""The SSRF guard refuses hostile URLs and admits the explicitly allow-listed local one."""

from __future__ import annotations

import pytest

from igny8.net import BlockedUrl, UrlGuard

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


@pytest.mark.parametrize("url", HOSTILE)
async def test_hostile_urls_are_refused(url: str) -> None:
    with pytest.raises(BlockedUrl):
        await UrlGuard().check(url)


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
