"""Sites, their integrations, connection results, sync history and health."""

from __future__ import annotations

import posixpath
import uuid
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from integration.domain.errors import InvalidInput


class Platform(StrEnum):
    WORDPRESS = "wordpress"
    SHOPIFY = "shopify"
    STATIC = "static"

    @classmethod
    def parse(cls, value: str) -> Platform:
        try:
            return cls(value)
        except ValueError:
            supported = ", ".join(p.value for p in cls)
            raise InvalidInput(f"unknown platform {value!r}; supported: {supported}") from None


def normalize_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry credentials")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


@cache
def _known_timezones() -> frozenset[str]:
    # `localtime` is the server's own zone, not a place a customer can live in.
    return frozenset(zoneinfo.available_timezones()) - {"localtime"}


def check_timezone(name: str) -> str:
    """An IANA zone name the scheduler can use; anything else is refused here rather than
    accepted and then silently skipped by the scheduler forever."""
    if name not in _known_timezones():
        raise InvalidInput(f"unknown timezone {name[:64]!r}; use an IANA name such as Europe/Paris")
    return name


def static_folder(settings: dict[str, Any]) -> str:
    """The export folder of a static integration, relative to the service's export root.

    Checked when the integration is created or changed, so a path that climbs out of the root
    (`../etc`, `/srv`) is refused up front; the adapter checks again after resolving symlinks.
    Messages never name server paths."""
    folder = settings.get("folder")
    if not isinstance(folder, str) or not folder.strip():
        raise InvalidInput("settings.folder is required for a static integration")
    if "\x00" in folder or len(folder) > 500:
        raise InvalidInput("settings.folder is not a valid folder name")
    if folder.startswith(("/", "\\")) or (len(folder) > 1 and folder[1] == ":"):
        raise InvalidInput("settings.folder must be relative to the export root")
    normalized = posixpath.normpath(folder.replace("\\", "/"))
    if normalized == ".." or normalized.startswith("../"):
        raise InvalidInput("settings.folder must stay inside the export root")
    return normalized


def merge_settings(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): given keys change, null removes a key, objects merge."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class Site:
    site_id: uuid.UUID
    account_id: uuid.UUID
    name: str
    url: str
    sector: str = ""
    niche: str = ""
    language: str = "en"
    timezone: str = "UTC"
    version: int = 1
    deleted: bool = False

    def update(self, **changes: Any) -> None:
        for name, value in changes.items():
            if value is None:
                continue
            if name == "url":
                value = normalize_url(value)
            if name == "timezone":
                value = check_timezone(value)
            setattr(self, name, value)
        self.version += 1

    def delete(self) -> None:
        self.deleted = True
        self.version += 1


@dataclass(frozen=True)
class SyncSchedule:
    """When scheduled syncs happen: every `interval_s` after a success; after `n` failed attempts
    in a row, `retry_s * 2^(n-1)` later, at most `max_backoff_s`."""

    interval_s: float = 3600.0
    retry_s: float = 60.0
    max_backoff_s: float = 6 * 3600.0

    def wait_after(self, failures: int) -> timedelta:
        if failures <= 0:
            return timedelta(seconds=self.interval_s)
        return timedelta(seconds=min(self.retry_s * 2 ** (failures - 1), self.max_backoff_s))


@dataclass(frozen=True)
class ConnectionResult:
    success: bool
    reason: str
    """`ok` or why not: bad_credentials, missing_permissions, no_rest_api,
    application_passwords_disabled, tls_error, timeout, unreachable, blocked_url, not_writable, …"""
    detail: str = ""
    checked_at: datetime | None = None


@dataclass
class Integration:
    integration_id: uuid.UUID
    site_id: uuid.UUID
    account_id: uuid.UUID
    platform: Platform
    base_url: str
    settings: dict[str, Any] = field(default_factory=dict)
    is_active: bool = True
    sync_enabled: bool = True
    sync_status: str = "never"
    last_error: str | None = None
    health_score: int = 100
    version: int = 1
    deleted: bool = False
    credentials: bytes | None = None
    """Ciphertext only; the domain never holds plaintext credentials."""
    last_test: ConnectionResult | None = None
    last_synced_at: datetime | None = None
    next_sync_at: datetime | None = None
    last_sync_attempt_at: datetime | None = None
    sync_failures: int = 0

    def sync_attempted(self, now: datetime, success: bool, schedule: SyncSchedule) -> None:
        """Record a sync attempt and when the next one is due (backing off after failures)."""
        self.last_sync_attempt_at = now
        self.sync_failures = 0 if success else self.sync_failures + 1
        self.next_sync_at = now + schedule.wait_after(self.sync_failures)

    def touch(self) -> None:
        self.version += 1

    def remove(self) -> None:
        self.deleted = True
        self.is_active = False
        self.version += 1


def health_score(recent_outcomes: list[bool]) -> int:
    """0-100 from recent syncs and connection tests, newest first; recent ones weigh more."""
    if not recent_outcomes:
        return 100
    weights = [1.0 / (1 + i * 0.25) for i in range(len(recent_outcomes))]
    good = sum(w for w, ok in zip(weights, recent_outcomes, strict=True) if ok)
    return round(100 * good / sum(weights))


#: permanent publish failures that are not the integration's doing: a customer's edit on the site
#: (publishing refuses to overwrite it) and an integration already removed
NOT_THE_DESTINATIONS_FAULT = frozenset({"remote_edited", "integration_unavailable"})


def publish_outcome(status: str, reason: str | None, permanent: bool) -> bool | None:
    """What a publication's end says about its destination's health: a publish that went
    through is a good outcome, a permanent refusal (bad credentials, missing permissions, a
    vanished endpoint, rejected content) a bad one; a failure after transient errors ran out
    of retries, or one that is not the destination's fault, says nothing (None)."""
    if status == "published":
        return True
    if status == "failed" and permanent and reason not in NOT_THE_DESTINATIONS_FAULT:
        return False
    return None
