"""The AI functions of the pipeline, their output schemas (strict), results and typed failures."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class AIFunction(StrEnum):
    CLUSTER_KEYWORDS = "cluster_keywords"
    GENERATE_IDEAS = "generate_ideas"
    GENERATE_CONTENT = "generate_content"
    GENERATE_IMAGE_PROMPTS = "generate_image_prompts"
    GENERATE_IMAGE = "generate_image"


@dataclass(frozen=True)
class AIUsage:
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


def _strict(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_TEXT = {"type": "string"}
_TEXTS = {"type": "array", "items": _TEXT}

SCHEMAS: dict[AIFunction, tuple[str, dict[str, Any]]] = {
    AIFunction.CLUSTER_KEYWORDS: (
        "keyword_clusters",
        _strict(
            {
                "clusters": {
                    "type": "array",
                    "items": _strict(
                        {
                            "name": _TEXT,
                            "description": _TEXT,
                            "primary_keyword": _TEXT,
                            "keywords": _TEXTS,
                        }
                    ),
                },
            }
        ),
    ),
    AIFunction.GENERATE_IDEAS: (
        "content_ideas",
        _strict(
            {
                "ideas": {
                    "type": "array",
                    "items": _strict(
                        {
                            "title": _TEXT,
                            "brief": _TEXT,
                            "outline": _TEXTS,
                            "target_keywords": _TEXTS,
                            "content_type": {
                                "type": "string",
                                "enum": ["post", "page", "product", "guide"],
                            },
                            "structure": {
                                "type": "string",
                                "enum": ["guide", "how_to", "listicle", "comparison", "review"],
                            },
                        }
                    ),
                },
            }
        ),
    ),
    AIFunction.GENERATE_CONTENT: (
        "article",
        _strict(
            {
                "title": _TEXT,
                "html": _TEXT,
                "meta_title": _TEXT,
                "meta_description": _TEXT,
                "slug": _TEXT,
                "keywords": _TEXTS,
                "word_count": {"type": "integer"},
            }
        ),
    ),
    AIFunction.GENERATE_IMAGE_PROMPTS: (
        "image_prompts",
        _strict(
            {
                "featured": _strict({"prompt": _TEXT, "alt": _TEXT}),
                "inline": {"type": "array", "items": _strict({"prompt": _TEXT, "alt": _TEXT})},
            }
        ),
    ),
}
