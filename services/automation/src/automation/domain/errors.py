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


class ImportTooLarge(AutomationError):
    """An import over the size limit, refused before it is read."""


class NotFound(AutomationError):
    pass


class RunConflict(AutomationError):
    pass


class ProviderMissing(AutomationError):
    """No AI provider is configured: the AI stages refuse to start."""
