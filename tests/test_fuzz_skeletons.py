"""Gateway and publishing are skeletons today (probes only); the same schemathesis harness runs
over them so every route they grow is fuzzed from its first commit (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from igny8.auth import auth_headers
from igny8.fuzz import FuzzTarget
from igny8.testing import fuzz_service, start_service_process

pytestmark = pytest.mark.integration


# The gateway has its own: services/gateway/tests/integration/test_fuzz_http.py
@pytest.mark.parametrize("service", ["publishing"])
def test_skeleton_apis_hold_under_fuzzing(service, kafka_bootstrap, tmp_path: Path):
    prefix = service.upper()
    database = os.environ.get(f"{prefix}_DATABASE_URL")
    if not database:
        pytest.fail(f"{prefix}_DATABASE_URL is not set: run `make infra-up` and export .env.infra")
    child, url = start_service_process(
        service,
        {
            f"{prefix}_DATABASE_URL": database,
            f"{prefix}_ROLE": "api",
            f"{prefix}_MIGRATE_ON_START": "true",  # its own schema, whatever ran before
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        },
        tmp_path / f"{service}.log",
    )
    try:
        report = fuzz_service(
            FuzzTarget(url, lambda label: auth_headers(None, "gateway", service, None))
        )
    finally:
        child.stop()
    print(report.summary())
    assert not report.failures, report.summary()
    assert "/healthz" in " ".join(report.operations)
