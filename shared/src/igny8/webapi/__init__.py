"""What every service's HTTP surface shares: one error format, request ids, HTTP metrics and the
OpenAPI conventions. `igny8.runtime.create_app` installs all of it."""

from igny8.webapi.errors import (
    ApiError,
    ErrorBody,
    ErrorDetail,
    FieldError,
    error_response,
    install_error_handlers,
    is_json,
    not_json_response,
)
from igny8.webapi.middleware import RequestContextMiddleware
from igny8.webapi.openapi import errors, finish_openapi, signed_by
from igny8.webapi.work import committed

#: Largest values the PostgreSQL integer columns hold: request bounds match them.
INT32_MAX = 2_147_483_647
INT64_MAX = 9_223_372_036_854_775_807

__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "ApiError",
    "ErrorBody",
    "ErrorDetail",
    "FieldError",
    "RequestContextMiddleware",
    "committed",
    "error_response",
    "errors",
    "finish_openapi",
    "install_error_handlers",
    "is_json",
    "not_json_response",
    "signed_by",
]
