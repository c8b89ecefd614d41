"""Typed failures of the automation domain (`entrypoints/errors.py` maps them to statuses)."""

from __future__ import annotations


class AutomationError(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidInput(AutomationError):
    pass


class UnreadableImport(AutomationError):
    pass


class TooLarge(AutomationError):
    """A body or a result the platform cannot carry (an import over its limit, an article whose
    `content.ready` would exceed the message limit)."""


class ImportTooLarge(TooLarge):
    """An import over the size limit, refused before it is read."""


class NotFound(AutomationError):
    pass


class RunConflict(AutomationError):
    """The run (or the site's live run, named by `run_id` when known) is in the way."""

    def __init__(self, detail: str, run_id: str | None = None) -> None:
        super().__init__(detail)
        self.run_id = run_id


class ProviderMissing(AutomationError):
    """No AI provider is configured: the AI stages refuse to start."""
