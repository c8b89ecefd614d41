"""BillingAccounts over billing's internal HTTP API (POST /accounts is idempotent there)."""

from __future__ import annotations

import uuid

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from igny8.auth import auth_headers


class HttpBillingAccounts:
    def __init__(self, base_url: str, key: Ed25519PrivateKey, client: httpx.AsyncClient) -> None:
        self._url = base_url.rstrip("/")
        self._key = key
        self._client = client

    async def open(self, account_id: uuid.UUID) -> None:
        answer = await self._client.post(
            f"{self._url}/accounts",
            json={"account_id": str(account_id)},
            headers=auth_headers(self._key, "gateway", "billing", account_id, ["owner"]),
        )
        answer.raise_for_status()  # httpx errors become 502/503/504 with the shared handlers
