"""The production AI adapter: the official `openai` SDK (`AsyncOpenAI`) against any
OpenAI-compatible server (the real provider, or the local development server over HTTP).

Structured outputs against strict JSON schemas; explicit timeouts; our own retry policy (the SDK's
is switched off, because it would retry `insufficient_quota`); refusals, truncation and schema
violations are typed failures; token usage and provider cost are captured for billing.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema
import openai
from openai import AsyncOpenAI

from automation.adapters.prompt_templates import PromptTemplates
from automation.domain.ai import (
    SCHEMAS,
    AIError,
    AIFunction,
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


@dataclass(frozen=True)
class FunctionConfig:
    model: str
    api_key: str | None
    base_url: str | None
    timeout_s: float = 60.0
    max_retries: int = 3
    image_size: str = "1024x1024"


@dataclass(frozen=True)
class TokenPrice:
    """USD per million tokens."""

    input_usd: Decimal
    output_usd: Decimal


class OpenAIEngine:
    def __init__(
        self,
        configs: dict[AIFunction, FunctionConfig],
        templates: PromptTemplates | None = None,
        prices: dict[str, TokenPrice] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._configs = configs
        self._templates = templates or PromptTemplates()
        self._prices = prices or {}
        self._sleep = sleep
        self._clients: dict[tuple[str | None, str | None, float], AsyncOpenAI] = {}

    def ensure_configured(self) -> None:
        """AI stages call this before starting: no key and no base URL is a clear refusal."""
        for function, config in self._configs.items():
            if not config.api_key and not config.base_url:
                raise AINotConfigured(
                    f"no AI provider for {function.value}: set AUTOMATION_OPENAI_API_KEY or "
                    "AUTOMATION_OPENAI_BASE_URL (or OPENAI_API_KEY / OPENAI_BASE_URL)"
                )

    def _client(self, config: FunctionConfig) -> AsyncOpenAI:
        if not config.api_key and not config.base_url:
            self.ensure_configured()
        key = (config.api_key, config.base_url, config.timeout_s)
        if key not in self._clients:
            self._clients[key] = AsyncOpenAI(
                # A local OpenAI-compatible server needs no key, but the SDK insists on one.
                api_key=config.api_key or "no-key-local-server",
                base_url=config.base_url,
                timeout=config.timeout_s,
                max_retries=0,
            )
        return self._clients[key]

    def _cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        price = self._prices.get(model.split("/")[-1])
        if price is None:
            return Decimal(0)
        return (price.input_usd * input_tokens + price.output_usd * output_tokens) / Decimal(
            1_000_000
        )

    async def _with_retries(
        self, config: FunctionConfig, call: Callable[[int], Awaitable[Any]]
    ) -> Any:
        last: AIError | None = None
        for attempt in range(1, config.max_retries + 2):
            try:
                return await call(attempt)
            except AIError as error:
                if not error.retryable or attempt > config.max_retries:
                    raise
                last = error
                delay = getattr(error, "retry_after_s", None) or min(0.25 * 2 ** (attempt - 1), 8.0)
                await self._sleep(delay)
        assert last is not None
        raise last

    async def complete(
        self,
        function: AIFunction,
        variables: dict[str, Any],
        data: dict[str, Any],
        max_output_tokens: int,
    ) -> AIResult:
        config = self._configs[function]
        client = self._client(config)
        name, schema = SCHEMAS[function]
        prompt, version = self._templates.render(function, variables)
        messages = [
            {"role": "system", "content": prompt},
            {"role": "user", "content": "INPUT (JSON):\n" + json.dumps(data, ensure_ascii=False)},
        ]

        async def attempt(n: int) -> AIResult:
            try:
                response = await client.chat.completions.create(  # type: ignore[call-overload]
                    model=config.model,
                    messages=messages,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": name, "strict": True, "schema": schema},
                    },
                    max_completion_tokens=max_output_tokens,
                )
            except openai.APIError as exc:
                raise translate(exc) from None
            choice = response.choices[0]
            if getattr(choice.message, "refusal", None):
                raise AIRefused(str(choice.message.refusal))
            if choice.finish_reason == "length":
                raise AITruncated(f"the answer hit the {max_output_tokens}-token limit")
            try:
                answer = json.loads(choice.message.content or "")
                jsonschema.validate(answer, schema)
            except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
                raise AISchemaViolation(
                    f"the answer does not fit the {name} schema: {str(exc)[:300]}"
                ) from None
            usage = response.usage
            tokens_in = usage.prompt_tokens if usage else 0
            tokens_out = usage.completion_tokens if usage else 0
            return AIResult(
                answer,
                AIUsage(
                    response.model,
                    tokens_in,
                    tokens_out,
                    self._cost(response.model, tokens_in, tokens_out),
                ),
                version,
                n,
            )

        return await self._with_retries(config, attempt)  # type: ignore[no-any-return]

    async def image(self, prompt: str, size: str | None = None) -> AIImage:
        config = self._configs[AIFunction.GENERATE_IMAGE]
        client = self._client(config)
        rendered, _ = self._templates.render(AIFunction.GENERATE_IMAGE, {"prompt": prompt})

        async def attempt(n: int) -> AIImage:
            try:
                response = await client.images.generate(
                    model=config.model,
                    prompt=rendered,
                    size=size or config.image_size,
                    n=1,
                    response_format="b64_json",
                )
            except openai.APIError as exc:
                raise translate(exc) from None
            if not response.data or not response.data[0].b64_json:
                raise AISchemaViolation("the image answer carried no image")
            png = base64.b64decode(response.data[0].b64_json)
            if not png.startswith(b"\x89PNG"):
                raise AISchemaViolation("the image answer is not a PNG")
            model = getattr(response, "model", None) or config.model
            usage = getattr(response, "usage", None)
            tokens_in = getattr(usage, "input_tokens", 0) or 0
            return AIImage(png, AIUsage(model, tokens_in, 0, self._cost(model, tokens_in, 0)), n)

        return await self._with_retries(config, attempt)  # type: ignore[no-any-return]


def translate(exc: openai.APIError) -> AIError:
    """SDK errors → typed failures. `insufficient_quota` is final; `rate_limit_exceeded` retries."""
    if isinstance(exc, openai.APITimeoutError):
        return AIUnavailable("the AI provider timed out")
    if isinstance(exc, openai.APIConnectionError):
        return AIUnavailable(f"cannot reach the AI provider: {exc}")
    if isinstance(exc, openai.RateLimitError):
        if _code(exc) == "insufficient_quota":
            return AIQuotaExceeded("the AI provider account has no quota left")
        retry_ms = exc.response.headers.get("retry-after-ms")
        retry_s = exc.response.headers.get("retry-after")
        wait = float(retry_ms) / 1000 if retry_ms else float(retry_s) if retry_s else None
        return AIRateLimited("rate limited by the AI provider", wait)
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return AIUnavailable(f"AI provider error {exc.status_code}")
    return AIError(f"the AI provider refused the request: {exc}")


def _code(exc: openai.APIStatusError) -> str | None:
    code = getattr(exc, "code", None)
    if code:
        return str(code)
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    return error.get("code") if isinstance(error, dict) else None
