"""Commands the use cases accept (translated from wire messages or HTTP bodies)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from billing.domain.model import GrantKind


def request_hash(params: dict[str, Any]) -> str:
    """Fingerprint of a command's parameters: same id + different hash is a conflict."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Item:
    operation: str
    quantity: int


@dataclass(frozen=True)
class ReserveCredits:
    account_id: uuid.UUID
    reservation_id: uuid.UUID
    items: tuple[Item, ...]
    ttl_seconds: int = 86_400
    run_id: uuid.UUID | None = None

    @cached_property
    def fingerprint(self) -> str:
        # The dicts `asdict` would give, built directly (asdict deep-copies: a hot path).
        return request_hash(
            {
                "items": [{"operation": i.operation, "quantity": i.quantity} for i in self.items],
                "ttl": self.ttl_seconds,
                "run": self.run_id,
            }
        )


@dataclass(frozen=True)
class Usage:
    model: str
    input_tokens: int
    output_tokens: int
    provider_cost_usd: str


@dataclass(frozen=True)
class CommitCredits:
    account_id: uuid.UUID
    reservation_id: uuid.UUID
    commit_id: uuid.UUID
    operation: str
    quantity: int
    usage: Usage | None = None
    run_id: uuid.UUID | None = None
    stage: int | None = None
    item_id: str | None = None

    @cached_property
    def fingerprint(self) -> str:
        # `asdict(self)` without commit_id, built directly (asdict deep-copies: a hot path).
        usage = self.usage
        return request_hash(
            {
                "account_id": self.account_id,
                "reservation_id": self.reservation_id,
                "operation": self.operation,
                "quantity": self.quantity,
                "usage": {
                    "model": usage.model,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "provider_cost_usd": usage.provider_cost_usd,
                }
                if usage
                else None,
                "run_id": self.run_id,
                "stage": self.stage,
                "item_id": self.item_id,
            }
        )


@dataclass(frozen=True)
class ReleaseCredits:
    account_id: uuid.UUID
    reservation_id: uuid.UUID


@dataclass(frozen=True)
class GrantCredits:
    account_id: uuid.UUID
    credits: int
    kind: GrantKind
    idempotency_key: str
    expires_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        return request_hash(
            {"credits": self.credits, "kind": self.kind.value, "expires_at": self.expires_at}
        )
