"""Internal authentication: missing, expired, wrong-audience, impersonating or unadmitted callers
are refused; roles count only from the gateway."""

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
from igny8.service_keys import PUBLIC_KEYS_ENV, development_keys, private_key_variable

ENV = development_keys()
PUBLIC = ENV[PUBLIC_KEYS_ENV]


def key(service: str) -> str:
    return ENV[private_key_variable(service)]


@pytest.fixture
def client() -> TestClient:
    admits = service_auth("billing", lambda: PUBLIC)
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
    headers = auth_headers(
        key("gateway"), "gateway", "billing", account, ["platform_admin", "owner"]
    )
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
        serialization_key("gateway"),
        algorithm="EdDSA",
    )
    answer = client.get("/quotes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "expired" in answer.json()["detail"]


def test_token_for_another_service_is_401(client: TestClient) -> None:
    answer = client.get("/quotes", headers=auth_headers(key("gateway"), "gateway", "integration"))
    assert answer.status_code == 401
    assert "another service" in answer.json()["detail"]


def test_token_signed_with_another_key_is_401(client: TestClient) -> None:
    stranger = development_keys(["gateway"])[private_key_variable("gateway")]
    answer = client.get("/quotes", headers=auth_headers(stranger, "gateway", "billing"))
    assert answer.status_code == 401


def test_a_service_cannot_speak_as_the_gateway_with_its_own_key(client: TestClient) -> None:
    forged = auth_headers(key("automation"), "gateway", "billing", uuid.uuid4(), ["platform_admin"])
    answer = client.get("/quotes", headers=forged)
    assert answer.status_code == 401
    assert "signature" in answer.json()["detail"].lower()


def test_the_old_shared_secret_tokens_are_refused(client: TestClient) -> None:
    now = int(time.time())
    claims = {"sub": "gateway", "aud": "billing", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, "k" * 40, algorithm="HS256")
    assert client.get("/quotes", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_caller_without_a_public_key_is_401(client: TestClient) -> None:
    rogue = development_keys(["rogue"])[private_key_variable("rogue")]
    answer = client.get("/quotes", headers=auth_headers(rogue, "rogue", "billing"))
    assert answer.status_code == 401


def test_roles_count_only_from_the_gateway(client: TestClient) -> None:
    account = uuid.uuid4()
    headers = auth_headers(key("automation"), "automation", "billing", account, ["platform_admin"])
    answer = client.get("/quotes", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["roles"] == []
    assert not Caller("automation", account, frozenset({"platform_admin"})).is_platform_admin
    assert Caller("gateway", account, frozenset({"platform_admin"})).is_platform_admin


def test_unsigned_token_is_401(client: TestClient) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "gateway", "aud": "billing", "iat": now, "exp": now + 60}, None, algorithm="none"
    )
    assert client.get("/quotes", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_token_living_longer_than_five_minutes_is_401(client: TestClient) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"sub": "gateway", "aud": "billing", "iat": now, "exp": now + 3600},
        serialization_key("gateway"),
        algorithm="EdDSA",
    )
    answer = client.get("/quotes", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    assert "five minutes" in answer.json()["detail"]


def test_caller_the_endpoint_does_not_admit_is_403(client: TestClient) -> None:
    answer = client.get(
        "/credentials", headers=auth_headers(key("automation"), "automation", "billing")
    )
    assert answer.status_code == 403
    assert "automation" in answer.json()["detail"]


def test_malformed_account_header_is_400(client: TestClient) -> None:
    headers = auth_headers(key("gateway"), "gateway", "billing")
    headers["X-Account-Id"] = "not-a-uuid"
    assert client.get("/quotes", headers=headers).status_code == 400


def test_minting_refuses_long_lifetimes_and_missing_or_bad_keys(monkeypatch) -> None:
    with pytest.raises(InvalidServiceToken):
        mint_service_token(key("gateway"), "gateway", "b", ttl_s=301)
    monkeypatch.delenv(private_key_variable("nobody"), raising=False)
    with pytest.raises(InvalidServiceToken, match="NOBODY_SERVICE_PRIVATE_KEY"):
        mint_service_token(None, "nobody", "b")
    with pytest.raises(InvalidServiceToken, match="Ed25519"):
        mint_service_token("k" * 40, "gateway", "b")


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
        env={private_key_variable("gateway"): key("gateway")},
        check=True,
    )
    assert verify_service_token(PUBLIC, out.stdout.strip(), "billing") == "gateway"


def test_cli_signs_with_a_key_file(tmp_path) -> None:
    (tmp_path / "billing.key").write_text(key("billing") + "\n")
    out = subprocess.run(
        [
            *(sys.executable, "-m", "igny8.cli", "service-token", "--from", "billing"),
            *("--to", "x", "--key-file", str(tmp_path / "billing.key")),
        ],
        capture_output=True,
        text=True,
        env={},
        check=True,
    )
    assert verify_service_token(PUBLIC, out.stdout.strip(), "x") == "billing"


def test_cli_prints_service_keys_that_work_together() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "igny8.cli", "service-keys"],
        capture_output=True,
        text=True,
        check=True,
    )
    env = dict(line.split("=", 1) for line in out.stdout.split())
    token = mint_service_token(env["PUBLISHING_SERVICE_PRIVATE_KEY"], "publishing", "integration")
    assert verify_service_token(env[PUBLIC_KEYS_ENV], token, "integration") == "publishing"


def test_cli_without_key_fails_with_reason() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "igny8.cli", "service-token", "--from", "a", "--to", "b"],
        capture_output=True,
        text=True,
        env={},
    )
    assert out.returncode == 2
    assert "A_SERVICE_PRIVATE_KEY" in out.stderr
    assert ".env.infra" in out.stderr


def serialization_key(service: str):
    from igny8.service_keys import parse_private_key

    return parse_private_key(key(service))
