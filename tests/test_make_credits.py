"""`make credits`: a new account of a local stack gets credits the way a customer does — a package
bought, paid through checkout (stripe-mock), Stripe's event signed with the stack's own secret and
delivered through the gateway's public webhook route — and the ledger holds them once."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from gateway.adapters.jwt_tokens import dev_token
from igny8.auth import auth_headers
from igny8.testing import ChildProcess, migrated_database, start_service_process

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "credits.py"
DEV_SECRET = "make-credits-development-secret-for-tests"
WEBHOOK_SECRET = "whsec_make_credits_" + "x" * 16


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("credits_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stack(
    postgres_admin_url: str, kafka_bootstrap: str, stripe_mock: str, tmp_path_factory
) -> Iterator[dict[str, str]]:
    """billing (on stripe-mock) and the gateway in front of it, as `make run` wires them."""
    from billing.bootstrap import SERVICE_ROOT as BILLING_ROOT
    from gateway.bootstrap import SERVICE_ROOT as GATEWAY_ROOT

    tmp = tmp_path_factory.mktemp("make-credits")
    billing_dbs = migrated_database(postgres_admin_url, BILLING_ROOT, "billing_credits")
    gateway_dbs = migrated_database(postgres_admin_url, GATEWAY_ROOT, "gateway_credits")
    billing_db, gateway_db = next(billing_dbs), next(gateway_dbs)
    children: list[ChildProcess] = []
    try:
        billing, billing_url = start_service_process(
            "billing",
            {
                "BILLING_DATABASE_URL": billing_db,
                "BILLING_MIGRATE_ON_START": "false",
                "BILLING_ROLE": "api",
                "BILLING_STRIPE_API_BASE": stripe_mock,
                "BILLING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            },
            tmp / "billing.log",
        )
        children.append(billing)
        gateway, gateway_url = start_service_process(
            "gateway",
            {
                "GATEWAY_DATABASE_URL": gateway_db,
                "GATEWAY_MIGRATE_ON_START": "false",
                "GATEWAY_ROLE": "api",
                "GATEWAY_JWT_DEV_SECRET": DEV_SECRET,
                "GATEWAY_BILLING_URL": billing_url,
                "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            },
            tmp / "gateway.log",
        )
        children.append(gateway)
        yield {"billing": billing_url, "gateway": gateway_url, "billing_db": billing_db}
    finally:
        for child in children:
            child.stop()
        for dbs in (billing_dbs, gateway_dbs):
            next(dbs, None)


def make_credits(stack: dict[str, str], *args: str, secret: str = WEBHOOK_SECRET):  # type: ignore[no-untyped-def]
    """The command `make credits` runs, against this stack's ports and secret."""
    env = {
        **os.environ,
        "BILLING_HTTP_PORT": stack["billing"].rsplit(":", 1)[1],
        "GATEWAY_HTTP_PORT": stack["gateway"].rsplit(":", 1)[1],
        "BILLING_STRIPE_WEBHOOK_SECRET": secret,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def billing_audit(database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "billing"), "audit"],
        env={**os.environ, "BILLING_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def new_account(stack: dict[str, str]) -> uuid.UUID:
    """A new user's account, made through the gateway as the console makes it: no credits."""
    token = dev_token(
        DEV_SECRET, "https://id.igny8.local/", "igny8-api", f"u-{uuid.uuid4().hex[:8]}"
    )
    async with httpx.AsyncClient(base_url=stack["gateway"], timeout=30) as client:
        made = await client.post(
            "/v1/accounts",
            json={"name": "New customer"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert made.status_code == 201, made.text
    return uuid.UUID(made.json()["account_id"])


async def ledger(stack: dict[str, str], account: uuid.UUID) -> tuple[int, list[dict]]:
    headers = auth_headers(None, "gateway", "billing", account)
    async with httpx.AsyncClient(base_url=stack["billing"], timeout=30) as client:
        balance = (await client.get(f"/accounts/{account}/balance", headers=headers)).json()
        moves = (await client.get(f"/accounts/{account}/transactions", headers=headers)).json()
    return balance["available"], moves["items"]


async def test_make_credits_buys_a_package_and_the_ledger_grants_it_once(stack):
    account = await new_account(stack)
    assert (await ledger(stack, account))[0] == 0  # what the README says of a new account

    bought = make_credits(stack, "--account", str(account))
    assert bought.returncode == 0, bought.stdout + bought.stderr
    # no package was on sale: the local one was put on sale and bought; Stripe's event was
    # delivered twice through the gateway and counted once
    assert "local-50k" in bought.stdout
    assert "succeeded then duplicate" in bought.stdout
    available, moves = await ledger(stack, account)
    assert available == 50_000
    assert [m["kind"] for m in moves] == ["grant"], moves  # one ledger transaction

    # a named package, bought again: a second payment, a second grant
    again = make_credits(stack, "--account", str(account), "--package", "local-50k")
    assert again.returncode == 0, again.stdout + again.stderr
    assert (await ledger(stack, account))[0] == 100_000

    # billing's ledger invariants (double entry, balances) hold after both purchases
    audit = billing_audit(stack["billing_db"])
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def test_make_credits_refuses_clearly_and_grants_nothing(stack):
    account = await new_account(stack)
    unknown = make_credits(stack, "--account", str(account), "--package", "no-such-pack")
    assert unknown.returncode == 1
    assert "no package 'no-such-pack' on sale" in unknown.stderr
    stranger = make_credits(stack, "--account", str(uuid.uuid4()))
    assert stranger.returncode == 1 and "404" in stranger.stderr
    # a webhook signed with another secret is refused by billing: no credits
    forged = make_credits(stack, "--account", str(account), secret="whsec_not_the_stacks")
    assert forged.returncode == 1 and "400" in forged.stderr
    assert (await ledger(stack, account))[0] == 0


def test_the_stack_file_of_make_run_gives_the_ports_and_secret(tmp_path: Path) -> None:
    script = _script()
    recorded = tmp_path / "stack.json"
    recorded.write_text(
        json.dumps({"pid": 1, "ports": {"billing": 9101, "gateway": 9100},
                    "stripe_webhook_secret": "whsec_recorded"})
    )  # fmt: skip
    found = script.local_stack({}, recorded)
    assert (found.billing, found.gateway, found.webhook_secret) == (
        "http://127.0.0.1:9101",
        "http://127.0.0.1:9100",
        "whsec_recorded",
    )
    moved = script.local_stack(
        {"BILLING_HTTP_PORT": "7101", "BILLING_STRIPE_WEBHOOK_SECRET": "w"}, recorded
    )
    assert (moved.billing, moved.webhook_secret) == ("http://127.0.0.1:7101", "w")
    with pytest.raises(script.CreditsError, match="no Stripe webhook secret"):
        script.local_stack({}, tmp_path / "absent.json")
