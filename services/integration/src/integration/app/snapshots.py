"""Entity snapshots as they travel on the bus (credentials never do)."""

from __future__ import annotations

from igny8.contracts.sites import IntegrationSnapshot, SiteSnapshot
from integration.domain.model import Integration, Site


def site_snapshot(site: Site) -> SiteSnapshot:
    return SiteSnapshot.model_validate(
        {
            "site_id": site.site_id,
            "account_id": site.account_id,
            "version": site.version,
            "deleted": site.deleted,
            "name": site.name,
            "url": site.url,
            "sector": site.sector,
            "niche": site.niche,
            "language": site.language,
            "timezone": site.timezone,
        }
    )


def integration_snapshot(integration: Integration) -> IntegrationSnapshot:
    return IntegrationSnapshot(
        integration_id=integration.integration_id,
        site_id=integration.site_id,
        account_id=integration.account_id,
        version=integration.version,
        deleted=integration.deleted,
        platform=integration.platform.value,
        base_url=integration.base_url,
        settings=integration.settings,
        is_active=integration.is_active,
        sync_enabled=integration.sync_enabled,
        sync_status=integration.sync_status,
        last_error=integration.last_error,
        health_score=integration.health_score,
        has_credentials=integration.credentials is not None,
    )
