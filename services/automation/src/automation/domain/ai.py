"""The AI functions of the pipeline and their output schemas (strict); results and typed failures
are igny8.ai's."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

# what a call returns and how it fails is shared (igny8.ai): publishing's optimizer pays alike
from igny8.ai import (
    AIError,
    AIImage,
    AINotConfigured,
    AIQuotaExceeded,
    AIRateLimited,
    AIRefused,
    AIResult,
    AISchemaViolation,
    AITruncated,
    AIUnavailable,
    AIUsage,
)


class AIFunction(StrEnum):
    CLUSTER_KEYWORDS = "cluster_keywords"
    GENERATE_IDEAS = "generate_ideas"
    GENERATE_CONTENT = "generate_content"
    GENERATE_IMAGE_PROMPTS = "generate_image_prompts"
    GENERATE_IMAGE = "generate_image"


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


__all__ = [
    "SCHEMAS",
    "AIError",
    "AIFunction",
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
