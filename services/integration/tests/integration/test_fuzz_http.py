"""Integration's HTTP API under schemathesis: no 5xx, answers match the OpenAPI document, no route
answers without a token (issue 12). The live service runs as its own process on its own database,
with a seeded site and a static integration whose folder exists."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integration_support import RING

from igny8.auth import auth_headers
from igny8.fuzz import FuzzTarget
from igny8.testing import fuzz_service, migrated_database, start_service_process
from integration.bootstrap import SERVICE_ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "integration_fuzz")


def test_integration_api_holds_under_fuzzing(fuzz_db, kafka_bootstrap, tmp_path: Path):
    exports = tmp_path / "exports"
    (exports / "garden").mkdir(parents=True)
    child, url = start_service_process(
        "integration",
        {
            "INTEGRATION_DATABASE_URL": fuzz_db,
            "INTEGRATION_ROLE": "api",
            "INTEGRATION_MIGRATE_ON_START": "false",
            "INTEGRATION_CREDENTIAL_KEYS": RING,
            "INTEGRATION_STATIC_ROOT": str(exports),
            "INTEGRATION_HTTP_TIMEOUT_S": "2",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        },
        tmp_path / "integration.log",
    )
    try:
        account = uuid.uuid4()

        def headers(label: str = "") -> dict[str, str]:
            # The credentials handout admits publishing alone; everything else the gateway.
            caller = "publishing" if " /internal/" in label else "gateway"
            return auth_headers(None, caller, "integration", account)

        with httpx.Client(base_url=url) as client:
            site = client.post(
                "/sites",
                json={"name": "Garden", "url": "https://garden.example"},
                headers=headers(),
            )
            assert site.status_code == 201, site.text
            site_id = site.json()["site_id"]
            integration = client.post(
                f"/sites/{site_id}/integrations",
                json={
                    "platform": "static",
                    "base_url": "https://garden.example",
                    "settings": {"folder": "garden"},
                },
                headers=headers(),
            )
            assert integration.status_code == 201, integration.text
        report = fuzz_service(
            FuzzTarget(
                url,
                headers,
                path_parameters={
                    "site_id": site_id,
                    "integration_id": integration.json()["integration_id"],
                },
            )
        )
    finally:
        child.stop()
    print(report.summary())
    assert not report.failures, report.summary()
    assert "Traceback" not in child.output()
