"""The OpenAI adapter every service shares: the official `openai` SDK (`AsyncOpenAI`) against any
OpenAI-compatible server (the real provider, or the local development server over HTTP).

Structured outputs against strict JSON schemas; explicit timeouts; our own retry policy (the SDK's
is switched off, because it would retry `insufficient_quota`); refusals, truncation and schema
violations are typed failures; token usage and provider cost are captured for billing.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema
import openai
from openai import AsyncOpenAI

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


@dataclass(frozen=True)
class ModelConfig:
    model: str
    api_key: str | None
    base_url: str | None
    timeout_s: float = 60.0
    max_retries: int = 3
    image_size: str = "1024x1024"

    @property
    def configured(self) -> bool:
        return bool(self.api_key or self.base_url)


@dataclass(frozen=True)
class TokenPrice:
    """USD per million tokens."""

    input_usd: Decimal
    output_usd: Decimal


class OpenAIClient:
    """JSON completions and images with typed failures, retries and usage."""

    def __init__(
        self,
        prices: dict[str, TokenPrice] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._prices = prices or {}
        self._sleep = sleep
        self._clients: dict[tuple[str | None, str | None, float], AsyncOpenAI] = {}

    def _client(self, config: ModelConfig) -> AsyncOpenAI:
        if not config.configured:
            raise AINotConfigured("no AI provider: set an API key or a base URL")
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

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> Decimal:
        price = self._prices.get(model.split("/")[-1])
        if price is None:
            return Decimal(0)
        return (price.input_usd * input_tokens + price.output_usd * output_tokens) / Decimal(
            1_000_000
        )

    async def _with_retries(
        self, config: ModelConfig, call: Callable[[int], Awaitable[Any]]
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

    async def complete_json(
        self,
        config: ModelConfig,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: dict[str, Any],
        max_output_tokens: int,
        prompt_version: str = "",
    ) -> AIResult:
        """A schema-valid JSON answer (strict structured output) with its usage."""
        client = self._client(config)

        async def attempt(n: int) -> AIResult:
            try:
                response = await client.chat.completions.create(  # type: ignore[call-overload]
                    model=config.model,
                    messages=messages,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": schema_name, "strict": True, "schema": schema},
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
                _validator(json.dumps(schema, sort_keys=True)).validate(answer)
            except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
                raise AISchemaViolation(
                    f"the answer does not fit the {schema_name} schema: {str(exc)[:300]}"
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
                    self.cost(response.model, tokens_in, tokens_out),
                ),
                prompt_version,
                n,
            )

        return await self._with_retries(config, attempt)  # type: ignore[no-any-return]

    async def image(self, config: ModelConfig, prompt: str, size: str | None = None) -> AIImage:
        """One PNG with its usage."""
        client = self._client(config)

        async def attempt(n: int) -> AIImage:
            try:
                response = await client.images.generate(
                    model=config.model,
                    prompt=prompt,
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
            return AIImage(png, AIUsage(model, tokens_in, 0, self.cost(model, tokens_in, 0)), n)

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


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    """One checked validator per schema: `jsonschema.validate` checks the schema itself on every
    call, which was a tenth of an automation worker's CPU (issue 17's profile)."""
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)
