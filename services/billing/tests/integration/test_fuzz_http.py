"""Billing's HTTP API under schemathesis: no 5xx, answers match the OpenAPI document, no route
answers without a token (issue 12). The live service runs as its own process on its own database,
because the fuzzer changes the platform-wide cost table as a platform admin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from billing.bootstrap import SERVICE_ROOT
from igny8.auth import auth_headers
from igny8.fuzz import FuzzTarget
from igny8.testing import fuzz_service, migrated_database, start_service_process

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "billing_fuzz")


def test_billing_api_holds_under_fuzzing(fuzz_db, kafka_bootstrap, tmp_path: Path):
    child, url = start_service_process(
        "billing",
        {
            "BILLING_DATABASE_URL": fuzz_db,
            "BILLING_ROLE": "api",
            "BILLING_MIGRATE_ON_START": "false",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        },
        tmp_path / "billing.log",
    )
    try:
        account = uuid.uuid4()

        def headers(label: str = "") -> dict[str, str]:
            return auth_headers(None, "gateway", "billing", account, ["platform_admin"])

        with httpx.Client(base_url=url) as client:
            assert client.post("/accounts", json={"account_id": str(account)}, headers=headers())
            granted = client.post(
                f"/accounts/{account}/grants",
                json={"credits": 1000, "kind": "paid"},
                headers={**headers(), "Idempotency-Key": "seed"},
            )
            assert granted.status_code == 201, granted.text
        report = fuzz_service(
            FuzzTarget(url, headers, path_parameters={"account_id": str(account)})
        )
    finally:
        child.stop()
    print(report.summary())
    assert not report.failures, report.summary()
    assert "Traceback" not in child.output()
