"""`billing audit`: exit 0 on a clean ledger, 1 with the offending ids when a balance is off."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from billing.bootstrap import SERVICE_ROOT
from igny8.db import create_engine
from igny8.testing import migrated_database

pytestmark = pytest.mark.integration


@pytest.fixture
def own_db(postgres_admin_url: str):  # type: ignore[no-untyped-def]
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "billing_audit")


def billing_audit(url: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "billing.cli", "audit"],
        env={**os.environ, "BILLING_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout[done.stdout.index("{") :])


async def test_billing_audit_reports_a_cached_balance_that_differs_from_its_entries(own_db):
    engine = create_engine(own_db, 1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text("INSERT INTO billing_accounts (account_id) VALUES (gen_random_uuid())")
            )
        assert billing_audit(own_db) == (0, {"clean": True, "violations": {}})
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE billing_accounts SET available = available + 1"))
    finally:
        await engine.dispose()
    status, report = billing_audit(own_db)
    assert status == 1
    assert "accounts whose cached balance differs from their entries" in report["violations"]
