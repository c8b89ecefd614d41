"""Typed failures of the integration domain."""

from __future__ import annotations


class IntegrationError(Exception):
    status = 422

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidInput(IntegrationError):
    status = 422


class NotFound(IntegrationError):
    status = 404


class Conflict(IntegrationError):
    status = 409


class KeyNotFound(IntegrationError):
    """A credential was encrypted under a key that is no longer in the key ring."""

    status = 500
