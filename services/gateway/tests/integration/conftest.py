"""The gateway in front of the real billing, integration and automation apps (in-process, each on
its own migrated database); users authenticate with development tokens."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_support import as_user, settings_for

from automation.bootstrap import SERVICE_ROOT as AUTOMATION_ROOT
from automation.bootstrap import bootstrap as automation_bootstrap
from automation.config import AutomationSettings
from billing.bootstrap import SERVICE_ROOT as BILLING_ROOT
from billing.bootstrap import bootstrap as billing_bootstrap
from billing.config import BillingSettings
from gateway.bootstrap import SERVICE_ROOT, bootstrap
from igny8.db import create_engine
from igny8.runtime import create_app
from igny8.testing import migrated_database
from integration.adapters.aesgcm_credentials import new_key
from integration.bootstrap import SERVICE_ROOT as INTEGRATION_ROOT
from integration.bootstrap import bootstrap as integration_bootstrap
from integration.config import IntegrationSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def gateway_db(postgres_admin_url: str) -> Iterator[str]:
    yield from migrated_database(postgres_admin_url, SERVICE_ROOT, "gateway_test")


@pytest.fixture(scope="session")
def upstream_dbs(postgres_admin_url: str) -> Iterator[dict[str, str]]:
    billing = migrated_database(postgres_admin_url, BILLING_ROOT, "gw_billing")
    integration = migrated_database(postgres_admin_url, INTEGRATION_ROOT, "gw_integration")
    automation = migrated_database(postgres_admin_url, AUTOMATION_ROOT, "gw_automation")
    urls = {
        "billing": next(billing),
        "integration": next(integration),
        "automation": next(automation),
    }
    yield urls
    for gen in (billing, integration, automation):
        next(gen, None)


@pytest.fixture
async def upstreams(upstream_dbs: dict[str, str], tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    engines = {name: create_engine(url, 5) for name, url in upstream_dbs.items()}
    apps = {
        "billing": create_app(
            billing_bootstrap(
                BillingSettings(database_url=upstream_dbs["billing"]), engine=engines["billing"]
            )
        ),
        "integration": create_app(
            integration_bootstrap(
                IntegrationSettings(
                    database_url=upstream_dbs["integration"],
                    credential_keys=SecretStr(f"k1:{new_key()}"),
                    static_root=tmp_path / "exports",
                ),
                engine=engines["integration"],
            )
        ),
        "automation": create_app(
            automation_bootstrap(
                AutomationSettings(
                    database_url=upstream_dbs["automation"],
                    openai_api_key=SecretStr("sk-test-not-called"),
                    openai_base_url="http://127.0.0.1:9/v1",
                ),
                engine=engines["automation"],
            )
        ),
    }
    yield apps
    for engine in engines.values():
        await engine.dispose()


@pytest.fixture
async def gateway_engine(gateway_db: str):  # type: ignore[no-untyped-def]
    engine = create_engine(gateway_db, 10)
    yield engine
    await engine.dispose()


@pytest.fixture
def make_gateway_app(gateway_db, gateway_engine, upstreams):  # type: ignore[no-untyped-def]
    """The gateway's ASGI app itself (a test that drives `receive` the way a server would)."""

    def make(mounts_extra: dict[str, Any] | None = None, **overrides: Any) -> Any:
        mounts: dict[str, Any] = {
            f"http://{name}": httpx.AsyncHTTPTransport()
            if app is None
            else httpx.ASGITransport(app=app)
            for name, app in upstreams.items()
        }
        mounts.update(mounts_extra or {})
        upstream_client = httpx.AsyncClient(mounts=mounts, timeout=10)
        app = create_app(
            bootstrap(
                settings_for(gateway_db, **overrides), engine=gateway_engine, client=upstream_client
            )
        )
        return app

    return make


@pytest.fixture
def make_gateway(make_gateway_app):  # type: ignore[no-untyped-def]
    async def make(
        mounts_extra: dict[str, Any] | None = None, **overrides: Any
    ) -> httpx.AsyncClient:
        app = make_gateway_app(mounts_extra, **overrides)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")

    return make


@pytest.fixture
async def gateway(make_gateway) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    client = await make_gateway()
    async with client:
        yield client


@pytest.fixture
def new_account(gateway: httpx.AsyncClient) -> Callable[..., Any]:
    async def make(owner: str | None = None) -> tuple[str, uuid.UUID]:
        owner = owner or f"user-{uuid.uuid4().hex[:8]}"
        answer = await gateway.post("/v1/accounts", json={"name": "Acme"}, headers=as_user(owner))
        assert answer.status_code == 201, answer.text
        return owner, uuid.UUID(answer.json()["account_id"])

    return make
