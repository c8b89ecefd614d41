"""What an AI call returns and how it fails, for every service that calls a model (automation's
pipeline, publishing's optimizer). Infra-free: the OpenAI adapter is `igny8.ai.openai_client`."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class AIUsage:
    """What billing is told an AI call used (tokens and the provider's cost)."""

    model: str
    input_tokens: int
    output_tokens: int
    provider_cost_usd: Decimal


@dataclass(frozen=True)
class AIResult:
    data: dict[str, Any]
    usage: AIUsage
    prompt_version: str
    attempts: int


@dataclass(frozen=True)
class AIImage:
    png: bytes
    usage: AIUsage
    attempts: int


class AIError(Exception):
    """A call that produced nothing usable (never charged)."""

    retryable = False

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class AINotConfigured(AIError):
    pass


class AIRefused(AIError):
    pass


class AITruncated(AIError):
    pass


class AISchemaViolation(AIError):
    retryable = True


class AIRateLimited(AIError):
    retryable = True

    def __init__(self, detail: str, retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class AIQuotaExceeded(AIError):
    """The provider account is out of money: retrying cannot help."""


class AIUnavailable(AIError):
    """Timeouts, connection failures, 5xx."""

    retryable = True


__all__ = [
    "AIError",
    "AIImage",
    "AINotConfigured",
    "AIQuotaExceeded",
    "AIRateLimited",
    "AIRefused",
    "AIResult",
    "AISchemaViolation",
    "AITruncated",
    "AIUnavailable",
    "AIUsage",
]
