"""Integration use cases: CRUD with encrypted credentials, connection tests, credentials handout."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from integration.app.sites import get_site
from integration.app.snapshots import integration_snapshot
from integration.domain.errors import InvalidInput, NotFound
from integration.domain.model import (
    Integration,
    Platform,
    health_score,
    merge_settings,
    normalize_url,
    static_folder,
)
from integration.ports import (
    Clock,
    CredentialCipher,
    PlatformConnector,
    SyncRecord,
    UnitOfWork,
    UnitOfWorkFactory,
)

REQUIRED_CREDENTIALS = {
    Platform.WORDPRESS: ("username", "application_password"),
    Platform.SHOPIFY: ("access_token",),
    Platform.STATIC: (),
}


def _check_credentials(platform: Platform, credentials: dict[str, str] | None) -> None:
    missing = [f for f in REQUIRED_CREDENTIALS[platform] if not (credentials or {}).get(f)]
    if missing:
        raise InvalidInput(f"{platform.value} credentials need: {', '.join(missing)}")


async def create_integration(
    account_id: uuid.UUID,
    site_id: uuid.UUID,
    fields: dict[str, Any],
    credentials: dict[str, str] | None,
    uow: UnitOfWork,
    cipher: CredentialCipher,
) -> Integration:
    await get_site(account_id, site_id, uow)
    platform = Platform.parse(str(fields.get("platform")))
    _check_credentials(platform, credentials)
    if platform is Platform.STATIC:
        static_folder(dict(fields.get("settings") or {}))
    integration = Integration(
        integration_id=uuid.uuid4(),
        site_id=site_id,
        account_id=account_id,
        platform=platform,
        base_url=normalize_url(str(fields.get("base_url") or "")),
        settings=dict(fields.get("settings") or {}),
        is_active=bool(fields.get("is_active", True)),
        sync_enabled=bool(fields.get("sync_enabled", True)),
    )
    if credentials:
        integration.credentials = cipher.encrypt(
            credentials, account_id, integration.integration_id
        )
    await uow.integrations.add(integration)
    await uow.emit("integration.connected", integration_snapshot(integration), account_id, site_id)
    return integration


async def get_integration(
    account_id: uuid.UUID, integration_id: uuid.UUID, uow: UnitOfWork
) -> Integration:
    integration = await uow.integrations.get(account_id, integration_id)
    if integration is None or integration.deleted:
        raise NotFound("integration not found")
    return integration


async def update_integration(
    account_id: uuid.UUID,
    integration_id: uuid.UUID,
    changes: dict[str, Any],
    credentials: dict[str, str] | None,
    uow: UnitOfWork,
    cipher: CredentialCipher,
) -> Integration:
    integration = await get_integration(account_id, integration_id, uow)
    if changes.get("base_url") is not None:
        integration.base_url = normalize_url(changes["base_url"])
    if changes.get("settings") is not None:
        settings = merge_settings(integration.settings, changes["settings"])
        if integration.platform is Platform.STATIC:
            static_folder(settings)
        integration.settings = settings
    for name in ("is_active", "sync_enabled"):
        if changes.get(name) is not None:
            setattr(integration, name, changes[name])
    if credentials is not None:
        _check_credentials(integration.platform, credentials)
        integration.credentials = cipher.encrypt(credentials, account_id, integration_id)
    integration.touch()
    await uow.integrations.save(integration)
    await uow.emit(
        "integration.updated", integration_snapshot(integration), account_id, integration.site_id
    )
    return integration


async def remove_integration(
    account_id: uuid.UUID, integration_id: uuid.UUID, uow: UnitOfWork
) -> None:
    integration = await get_integration(account_id, integration_id, uow)
    integration.remove()
    integration.credentials = None  # nothing secret outlives the integration
    await uow.integrations.save(integration)
    await uow.emit(
        "integration.removed", integration_snapshot(integration), account_id, integration.site_id
    )


def decrypt(integration: Integration, cipher: CredentialCipher) -> dict[str, str]:
    if integration.credentials is None:
        return {}
    return cipher.decrypt(
        integration.credentials, integration.account_id, integration.integration_id
    )


async def credentials_for_publishing(
    account_id: uuid.UUID, integration_id: uuid.UUID, uow: UnitOfWork, cipher: CredentialCipher
) -> dict[str, str]:
    return decrypt(await get_integration(account_id, integration_id, uow), cipher)


async def record_outcome(integration: Integration, record: SyncRecord, uow: UnitOfWork) -> None:
    """Log a sync or test, recompute health, announce a changed score."""
    await uow.syncs.add(record)
    before = integration.health_score
    integration.health_score = health_score(
        await uow.syncs.recent_outcomes(integration.integration_id, 10)
    )
    integration.touch()
    await uow.integrations.save(integration)
    topic = (
        "integration.health_changed"
        if integration.health_score != before
        else "integration.updated"
    )
    await uow.emit(
        topic, integration_snapshot(integration), integration.account_id, integration.site_id
    )


def same_target(a: Integration, b: Integration) -> bool:
    """Did the integration keep what a remote call was made with?"""
    return (a.platform, a.base_url, a.settings, a.credentials) == (
        b.platform,
        b.base_url,
        b.settings,
        b.credentials,
    )


async def test_connection(
    account_id: uuid.UUID,
    integration_id: uuid.UUID,
    uows: UnitOfWorkFactory,
    cipher: CredentialCipher,
    connector: PlatformConnector,
    clock: Clock,
) -> Integration:
    """Never raises for a failing site: the result says `success: false` with the reason. The site
    is called between two short transactions, so a slow site holds no row lock or connection;
    a result for settings changed meanwhile is answered but not recorded."""
    async with uows() as uow:
        before = await get_integration(account_id, integration_id, uow)
    result = replace(await connector.test(before, decrypt(before, cipher)), checked_at=clock.now())
    async with uows() as uow:
        integration = await get_integration(account_id, integration_id, uow)
        if not same_target(before, integration):
            integration.last_test = replace(
                result, detail=f"{result.detail} (not recorded: the integration changed meanwhile)"
            )
            return integration
        integration.last_test = result
        await record_outcome(
            integration,
            SyncRecord(
                uuid.uuid4(),
                integration_id,
                account_id,
                "test",
                result.success,
                result.reason,
                result.detail,
            ),
            uow,
        )
        await uow.commit()
    return integration
