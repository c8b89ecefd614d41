"""Asking billing what a run would cost (internal HTTP, service token)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from automation.domain.quotes import Quote, QuotedPrice, QuoteLine
from igny8.auth import auth_headers


class BillingQuotes:
    def __init__(self, base_url: str, private_key: str, timeout_s: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._key = private_key  # automation's own signing key
        self._timeout = timeout_s

    async def quote(self, account_id: uuid.UUID, quantities: dict[str, int]) -> Quote:
        items = [{"operation": op, "quantity": q} for op, q in quantities.items()]
        if not items:
            return Quote(credits=0)
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            answer = await client.post(
                f"{self._base}/quotes",
                json={"items": items},
                headers=auth_headers(self._key, "automation", "billing", account_id),
            )
        answer.raise_for_status()
        return quote_of(answer.json())


def quote_of(body: dict[str, Any]) -> Quote:
    """Billing's `Quote` answer (its OpenAPI `Quote` schema) as a domain value."""

    def price(p: dict[str, Any]) -> QuotedPrice:
        effective = p.get("effective_at")
        return QuotedPrice(
            operation=p["operation"],
            unit=p["unit"],
            credits_per_unit=int(p["credits_per_unit"]),
            minimum_credits=int(p["minimum_credits"]),
            display_name=p.get("display_name", ""),
            effective_at=datetime.fromisoformat(effective) if effective else None,
        )

    return Quote(
        credits=int(body["credits"]),
        lines=tuple(
            QuoteLine(
                operation=line["operation"],
                quantity=int(line["quantity"]),
                credits=int(line["credits"]),
                price=price(line["price"]),
            )
            for line in body["lines"]
        ),
    )
