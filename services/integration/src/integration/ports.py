"""Ports of the integration service."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from igny8.contracts.sites import InventoryItem
from igny8.uow import UnitOfWork as BaseUnitOfWork
from integration.domain.model import ConnectionResult, Integration, Site


@dataclass(frozen=True)
class SyncRecord:
    sync_id: uuid.UUID
    integration_id: uuid.UUID
    account_id: uuid.UUID
    kind: str
    success: bool
    reason: str
    detail: str = ""
    added: int = 0
    changed: int = 0
    removed: int = 0


class SiteRepository(Protocol):
    async def add(self, site: Site) -> None: ...
    async def get(self, account_id: uuid.UUID, site_id: uuid.UUID) -> Site | None: ...
    async def list(self, account_id: uuid.UUID, limit: int, offset: int) -> list[Site]: ...
    async def save(self, site: Site) -> None: ...


class IntegrationRepository(Protocol):
    async def add(self, integration: Integration) -> None: ...
    async def get(self, account_id: uuid.UUID, integration_id: uuid.UUID) -> Integration | None: ...
    async def for_site(self, account_id: uuid.UUID, site_id: uuid.UUID) -> list[Integration]: ...
    async def save(self, integration: Integration) -> None: ...
    async def claim_due(
        self, now: datetime, limit: int, per_account: int, lease_s: float
    ) -> list[tuple[uuid.UUID, uuid.UUID]]: ...
    async def with_credentials(self, limit: int, after: uuid.UUID | None) -> list[Integration]: ...


class InventoryRepository(Protocol):
    async def current(self, integration_id: uuid.UUID) -> dict[tuple[str, str], InventoryItem]: ...
    async def apply(
        self, integration: Integration, upserts: list[InventoryItem], deletes: list[InventoryItem]
    ) -> None: ...


class SyncEventRepository(Protocol):
    async def add(self, record: SyncRecord) -> None: ...
    async def recent_outcomes(self, integration_id: uuid.UUID, limit: int) -> list[bool]: ...


class CredentialCipher(Protocol):
    @property
    def primary(self) -> str:
        """Id of the key that encrypts."""

    def key_id(self, token: bytes) -> str: ...
    def encrypt(
        self, plaintext: dict[str, str], account_id: uuid.UUID, integration_id: uuid.UUID
    ) -> bytes: ...
    def decrypt(
        self, token: bytes, account_id: uuid.UUID, integration_id: uuid.UUID
    ) -> dict[str, str]: ...


class PlatformConnector(Protocol):
    """Talks to the customer's platform (WordPress, Shopify, a static folder)."""

    async def test(
        self, integration: Integration, credentials: dict[str, str]
    ) -> ConnectionResult: ...
    async def inventory(
        self, integration: Integration, credentials: dict[str, str]
    ) -> list[InventoryItem]:
        """Raises PlatformUnavailable with a reason when the platform cannot be read."""


class PlatformUnavailable(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class UnitOfWork(BaseUnitOfWork, Protocol):
    """One transaction over integration's repositories (`igny8.uow`: commit, rollback, emit)."""

    @property
    def sites(self) -> SiteRepository: ...
    @property
    def integrations(self) -> IntegrationRepository: ...
    @property
    def inventory(self) -> InventoryRepository: ...
    @property
    def syncs(self) -> SyncEventRepository: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
"""A fresh unit of work per transaction: use cases that call a customer's site open one before and
one after the call, so no transaction (row lock, pooled connection) lives across it."""


class Clock(Protocol):
    def now(self) -> datetime: ...
