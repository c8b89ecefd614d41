"""Typed failures of the automation domain (the HTTP table maps them to statuses)."""

from __future__ import annotations


class AutomationError(Exception):
    status = 422

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidInput(AutomationError):
    status = 422


class UnreadableImport(AutomationError):
    status = 400


class NotFound(AutomationError):
    status = 404


class RunConflict(AutomationError):
    status = 409
