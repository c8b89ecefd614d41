"""Shared test constants and helpers for the integration service's tests."""

from __future__ import annotations

import uuid

from igny8.auth import auth_headers
from integration.adapters.aesgcm_credentials import new_key

RING = f"k1:{new_key()}"


def as_account(account: uuid.UUID, caller: str = "gateway") -> dict[str, str]:
    return auth_headers(None, caller, "integration", account)  # the caller's key, from the env
