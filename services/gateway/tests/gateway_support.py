"""Helpers of the gateway tests: development tokens and settings."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import SecretStr

from gateway.adapters.jwt_tokens import dev_token
from gateway.config import GatewaySettings

SECRET = "gateway-test-dev-secret-" + "x" * 16


def settings_for(gateway_db: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "database_url": gateway_db,
        "role": "api",
        "jwt_dev_secret": SecretStr(SECRET),
        "billing_url": "http://billing",
        "integration_url": "http://integration",
        "automation_url": "http://automation",
        "publishing_url": "http://127.0.0.1:9",  # not running here: answers 503
        "rate_limit_burst": 100_000,
        "rate_limit_per_s": 100_000.0,
        **overrides,
    }
    return GatewaySettings(**values)


def token(user: str, **kw: Any) -> str:
    return dev_token(
        SECRET,
        kw.pop("issuer", "https://id.igny8.local/"),
        kw.pop("audience", "igny8-api"),
        user,
        **kw,
    )


def as_user(user: str, account: uuid.UUID | str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token(user)}"}
    if account is not None:
        headers["X-Account-Id"] = str(account)
    return headers
