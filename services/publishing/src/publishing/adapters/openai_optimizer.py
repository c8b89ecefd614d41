"""The optimizer's model call through the shared OpenAI adapter (`igny8.ai.openai_client`):
strict structured output against the optimizer's schema, typed failures, retries, usage."""

from __future__ import annotations

from typing import Any

from igny8.ai import AIUsage
from igny8.ai.openai_client import ModelConfig, OpenAIClient, TokenPrice
from publishing.domain.optimizer import PROMPT_VERSION, SCHEMA_NAME, schema

MAX_OUTPUT_TOKENS = 2000


class OpenAIOptimizer:
    def __init__(self, config: ModelConfig, prices: dict[str, TokenPrice] | None = None) -> None:
        self._config = config
        self._client = OpenAIClient(prices)

    async def propose(self, messages: list[dict[str, str]]) -> tuple[dict[str, Any], AIUsage]:
        result = await self._client.complete_json(
            self._config, messages, SCHEMA_NAME, schema(), MAX_OUTPUT_TOKENS, PROMPT_VERSION
        )
        return result.data, result.usage
