"""Typed failures of the integration domain."""

from __future__ import annotations


class IntegrationError(Exception):
    status = 422
    code = "parameter_invalid"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class InvalidInput(IntegrationError):
    status = 422


class NotFound(IntegrationError):
    status = 404
    code = "resource_missing"


class Conflict(IntegrationError):
    status = 409
    code = "conflict"


class KeyNotFound(IntegrationError):
    """A credential was encrypted under a key that is no longer in the key ring."""

    status = 500
    code = "credential_key_missing"
