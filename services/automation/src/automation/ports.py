"""Ports of the automation service (Protocols the app layer depends on)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from pydantic import BaseModel

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


class UnitOfWork(Protocol):
    """One transaction over the automation store, with its outbox."""

    store: Any

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def emit(self, topic: str, payload: BaseModel, account_id: Any, site_id: Any) -> None: ...


class ImageStorage(Protocol):
    async def save(self, account_id: Any, site_id: Any, image_id: Any, png: bytes) -> str: ...

    async def read(self, key: str) -> bytes: ...


class RunLog(Protocol):
    def write(
        self, run_id: Any, stage: int | None, kind: str, message: str, **fields: Any
    ) -> None: ...


class Clock(Protocol):
    def now(self) -> Any: ...
