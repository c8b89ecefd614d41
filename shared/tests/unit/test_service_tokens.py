"""Internal authentication: missing, expired, wrong-audience or unadmitted callers are refused."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from igny8.auth import (
    Caller,
    InvalidServiceToken,
    auth_headers,
    mint_service_token,
    service_auth,
    verify_service_token,
)

KEY = "k" * 40


@pytest.fixture
def client() -> TestClient:
    admits = service_auth("billing", lambda: KEY)
    app = FastAPI()

    @app.get("/quotes")
    def quotes(caller: Caller = Depends(admits("gateway", "automation"))) -> dict[str, object]:
        return {
            "caller": caller.service,
            "account": str(caller.account_id),
            "roles": sorted(caller.roles),
        }

    @app.get("/credentials")
    def credentials(caller: Caller = Depends(admits("publishing"))) -> dict[str, str]:
        return {"caller": caller.service}

    return TestClient(app)


def test_admitted_caller_gets_through_with_tenant_and_roles(client: TestClient) -> None:
    account = uuid.uuid4()
    headers = auth_headers(KEY, "gateway", "billing", account, ["platform_admin", "owner"])
    answer = client.get("/quotes", headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "caller": "gateway",
        "account": str(account),
        "roles": ["owner", "platform_admin"],
    }


def test_request_without_token_is_401(client: TestClient) -> None:
    answer = client.get("/quotes")
    assert answer.status_code == 401
    assert "missing" in answer.json()["detail"]


def test_expired_token_is_401(client: TestClient) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "gateway", "aud": "billing", "iat": now - 400, "exp": now - 100},
        KEY,
        algorithm="HS256",
    )
    answer = client.get("/quotes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_token_for_another_service_is_401(client: TestClient) -> None:
    answer = client.get("/quotes", headers=auth_headers(KEY, "gateway", "integration"))
    assert answer.status_code == 401
    assert "another service" in answer.json()["detail"]


def test_token_signed_with_another_key_is_401(client: TestClient) -> None:
    answer = client.get("/quotes", headers=auth_headers("x" * 40, "gateway", "billing"))
    assert answer.status_code == 401


def test_unsigned_token_is_401(client: TestClient) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "gateway", "aud": "billing", "iat": now, "exp": now + 60}, None, algorithm="none"
    )
    assert client.get("/quotes", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_living_longer_than_five_minutes_is_401(client: TestClient) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "gateway", "aud": "billing", "iat": now, "exp": now + 3600}, KEY, algorithm="HS256"
    )
    answer = client.get("/quotes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "five minutes" in answer.json()["detail"]


def test_caller_the_endpoint_does_not_admit_is_403(client: TestClient) -> None:
    answer = client.get("/credentials", headers=auth_headers(KEY, "automation", "billing"))
    assert answer.status_code == 403
    assert "automation" in answer.json()["detail"]


def test_malformed_account_header_is_400(client: TestClient) -> None:
    headers = auth_headers(KEY, "gateway", "billing")
    headers["X-Account-Id"] = "not-a-uuid"
    assert client.get("/quotes", headers=headers).status_code == 400


def test_minting_refuses_long_lifetimes_and_missing_keys() -> None:
    with pytest.raises(InvalidServiceToken):
        mint_service_token(KEY, "a", "b", ttl_s=301)
    with pytest.raises(InvalidServiceToken):
        mint_service_token("", "a", "b")


def test_cli_prints_a_token_the_target_accepts() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "igny8.cli",
            "service-token",
            "--from",
            "gateway",
            "--to",
            "billing",
        ],
        capture_output=True,
        text=True,
        env={"IGNY8_SERVICE_KEY": KEY},
        check=True,
    )
    assert verify_service_token(KEY, out.stdout.strip(), "billing") == "gateway"


def test_cli_without_key_fails_with_reason() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "igny8.cli", "service-token", "--from", "a", "--to", "b"],
        capture_output=True,
        text=True,
        env={},
    )
    assert out.returncode == 2
    assert "IGNY8_SERVICE_KEY" in out.stderr
