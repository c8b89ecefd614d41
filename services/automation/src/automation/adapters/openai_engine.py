"""The production AI engine: automation's functions (versioned prompt templates, strict output
schemas, per-function models) over the shared OpenAI adapter (`igny8.ai.openai_client`: typed
failures, retries, usage and provider cost)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping

from automation.adapters.prompt_templates import PromptTemplates
from automation.domain.ai import SCHEMAS, AIFunction, AIImage, AINotConfigured, AIResult
from igny8.ai.openai_client import ModelConfig, OpenAIClient, TokenPrice, translate

FunctionConfig = ModelConfig
"""Per-function model settings (the shared adapter's ModelConfig)."""

__all__ = ["FunctionConfig", "OpenAIEngine", "TokenPrice", "translate"]


class OpenAIEngine:
    def __init__(
        self,
        configs: dict[AIFunction, ModelConfig],
        templates: PromptTemplates | None = None,
        prices: dict[str, TokenPrice] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._configs = configs
        self._templates = templates or PromptTemplates()
        self._client = OpenAIClient(prices, sleep)

    def ensure_configured(self) -> None:
        """AI stages call this before starting: no key and no base URL is a clear refusal."""
        for function, config in self._configs.items():
            if not config.configured:
                raise AINotConfigured(
                    f"no AI provider for {function.value}: set AUTOMATION_OPENAI_API_KEY or "
                    "AUTOMATION_OPENAI_BASE_URL (or OPENAI_API_KEY / OPENAI_BASE_URL)"
                )

    async def complete(
        self,
        function: AIFunction,
        variables: Mapping[str, object],
        data: Mapping[str, object],
        max_output_tokens: int,
    ) -> AIResult:
        config = self._configs[function]
        if not config.configured:
            self.ensure_configured()
        name, schema = SCHEMAS[function]
        prompt, version = self._templates.render(function, variables)
        messages = [
            {"role": "system", "content": prompt},
            {
                "role": "user",
                "content": "INPUT (JSON):\n" + json.dumps(dict(data), ensure_ascii=False),
            },
        ]
        return await self._client.complete_json(
            config, messages, name, schema, max_output_tokens, version
        )

    async def image(self, prompt: str, size: str | None = None) -> AIImage:
        config = self._configs[AIFunction.GENERATE_IMAGE]
        if not config.configured:
            self.ensure_configured()
        rendered, _ = self._templates.render(AIFunction.GENERATE_IMAGE, {"prompt": prompt})
        return await self._client.image(config, rendered, size)
