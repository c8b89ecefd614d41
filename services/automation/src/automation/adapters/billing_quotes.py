"""Asking billing what a run would cost (internal HTTP, service token)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from igny8.auth import auth_headers


class BillingQuotes:
    def __init__(self, base_url: str, private_key: str, timeout_s: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._key = private_key  # automation's own signing key
        self._timeout = timeout_s

    async def quote(self, account_id: uuid.UUID, quantities: dict[str, int]) -> dict[str, Any]:
        items = [{"operation": op, "quantity": q} for op, q in quantities.items()]
        if not items:
            return {"credits": 0, "lines": []}
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            answer = await client.post(
                f"{self._base}/quotes",
                json={"items": items},
                headers=auth_headers(self._key, "automation", "billing", account_id),
            )
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]
