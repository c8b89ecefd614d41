"""Ports of the automation service (Protocols the app layer depends on)."""

from __future__ import annotations

from typing import Any, Protocol

from automation.domain.ai import AIFunction, AIImage, AIResult


class AIEngine(Protocol):
    """The AI provider. Failures are typed `AIError`s; a failed call produced nothing usable."""

    async def complete(
        self,
        function: AIFunction,
        variables: dict[str, Any],
        data: dict[str, Any],
        max_output_tokens: int,
    ) -> AIResult:
        """Render the function's prompt template with `variables`, send `data` as the input, and
        return the schema-valid JSON answer with its token usage."""

    async def image(self, prompt: str, size: str) -> AIImage: ...
