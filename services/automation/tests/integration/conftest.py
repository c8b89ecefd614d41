from __future__ import annotations

import pytest

from automation.bootstrap import SERVICE_ROOT
from igny8.testing import migrated_database


@pytest.fixture(scope="session")
def automation_db(postgres_admin_url):
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "automation_test")
