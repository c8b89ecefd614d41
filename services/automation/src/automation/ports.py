"""Ports of the automation service (Protocols the app layer depends on)."""

from __future__ import annotations

from typing import Any, Protocol

from automation.domain.ai import AIFunction, AIImage, AIResult
from igny8.credit_saga import HoldBook
from igny8.uow import UnitOfWork as BaseUnitOfWork


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

    def ensure_configured(self) -> None:
        """Raise AINotConfigured when no provider is configured (no silent fallback)."""


class UnitOfWork(BaseUnitOfWork, Protocol):
    """One transaction over the automation store and the run holds, with its outbox."""

    # read-only: each implementation exposes its own repository types
    @property
    def store(self) -> Any: ...

    @property
    def holds(self) -> HoldBook: ...


class ImageStorage(Protocol):
    async def save(self, account_id: Any, site_id: Any, image_id: Any, png: bytes) -> str: ...

    async def read(self, key: str) -> bytes: ...


class RunLog(Protocol):
    def write(
        self, run_id: Any, stage: int | None, kind: str, message: str, **fields: Any
    ) -> None: ...


class Clock(Protocol):
    def now(self) -> Any: ...
