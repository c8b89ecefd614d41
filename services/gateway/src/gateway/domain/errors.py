"""Typed refusals of the gateway; each maps to one HTTP status and error code."""

from __future__ import annotations


class GatewayError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        """The offending field or parameter, when the refusal is about one."""
        if code:
            self.code = code


class BadRequest(GatewayError):
    status = 400
    code = "bad_request"


class Unauthenticated(GatewayError):
    status = 401
    code = "unauthenticated"


class Forbidden(GatewayError):
    status = 403
    code = "forbidden"


class NotFound(GatewayError):
    status = 404
    code = "resource_missing"


class Conflict(GatewayError):
    status = 409
    code = "conflict"


class InvalidInput(GatewayError):
    status = 422
    code = "parameter_invalid"
