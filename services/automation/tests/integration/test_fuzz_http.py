"""Automation's HTTP API under schemathesis (issue 12): no 5xx, answers match the OpenAPI
document, no route answers without a token.

NOT YET ENABLED: automation's HTTP layer, store and engine are being reshaped on another branch,
and its routes do not yet declare their models and statuses. The integrator enables this file
once that reshape has merged (delete the `skip` mark below), fixes what it finds, and regenerates
docs/openapi/automation.json (`make openapi`). The skip reason shows in every `make test` summary.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from automation.adapters.sqlalchemy_tables import known_sites
from automation.bootstrap import SERVICE_ROOT
from igny8.auth import auth_headers
from igny8.db import create_engine
from igny8.fuzz import FuzzTarget
from igny8.testing import fuzz_service, migrated_database, start_service_process

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skip(
        reason="issue 12: automation fuzzing is enabled by the integrator after the automation "
        "reshape merges (see this file's docstring)"
    ),
]


@pytest.fixture(scope="module")
def fuzz_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "automation_fuzz")


async def seed_site(url: str, account: uuid.UUID, site: uuid.UUID) -> None:
    engine = create_engine(url, 1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(known_sites).values(
                    site_id=site,
                    account_id=account,
                    version=1,
                    deleted=False,
                    name="Garden",
                    url="https://garden.example",
                )
            )
    finally:
        await engine.dispose()


def test_automation_api_holds_under_fuzzing(fuzz_db, kafka_bootstrap, tmp_path: Path):
    account, site = uuid.uuid4(), uuid.uuid4()
    asyncio.run(seed_site(fuzz_db, account, site))
    child, url = start_service_process(
        "automation",
        {
            "AUTOMATION_DATABASE_URL": fuzz_db,
            "AUTOMATION_ROLE": "api",
            "AUTOMATION_MIGRATE_ON_START": "false",
            "AUTOMATION_IMAGE_ROOT": str(tmp_path / "images"),
            "AUTOMATION_RUN_LOG_ROOT": str(tmp_path / "runs"),
            # Nothing listens here: estimates and run starts must answer 503, never 500.
            "AUTOMATION_BILLING_URL": "http://127.0.0.1:9",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        },
        tmp_path / "automation.log",
    )
    try:
        report = fuzz_service(
            FuzzTarget(
                url,
                lambda label: auth_headers(None, "gateway", "automation", account),
                path_parameters={"site_id": str(site)},
            )
        )
    finally:
        child.stop()
    print(report.summary())
    assert not report.failures, report.summary()
