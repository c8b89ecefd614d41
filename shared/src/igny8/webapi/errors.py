"""One error format for every service (Stripe's shape):

    {"error": {"type": "...", "code": "...", "message": "...", "param": "...", "request_id": "...",
               "errors": [{"param": "...", "code": "...", "message": "..."}]}}

`type` is the broad class a client branches on, `code` the precise reason, `param` the first
offending field, `errors` every field error (never the submitted value: a 100 KB name must not
come back). `igny8.runtime.create_app` installs these handlers on every service, so a service
raises `HTTPException`, `ApiError` or its own typed errors and never formats a body itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from igny8.observability import get_logger

log = get_logger(__name__)

MAX_MESSAGE = 300
MAX_FIELD_ERRORS = 20
RETRY_AFTER_S = "5"

#: HTTP status → (type, default code)
STATUS_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "bad_request"),
    401: ("authentication_error", "unauthenticated"),
    402: ("payment_required_error", "insufficient_credits"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "resource_missing"),
    405: ("invalid_request_error", "method_not_allowed"),
    409: ("conflict_error", "conflict"),
    413: ("invalid_request_error", "payload_too_large"),
    415: ("invalid_request_error", "unsupported_media_type"),
    422: ("invalid_request_error", "parameter_invalid"),
    429: ("rate_limit_error", "rate_limited"),
    500: ("api_error", "internal_error"),
    502: ("upstream_error", "upstream_error"),
    503: ("upstream_error", "unavailable"),
    504: ("upstream_error", "upstream_timeout"),
}


class FieldError(BaseModel):
    param: str = Field(description="Dotted path of the field, e.g. `items.0.quantity`.")
    code: str = Field(description="Machine-readable reason, e.g. `less_than_equal`.")
    message: str


class ErrorDetail(BaseModel):
    type: str = Field(
        description="Broad class: invalid_request_error, authentication_error, permission_error, "
        "conflict_error, payment_required_error, rate_limit_error, upstream_error or api_error."
    )
    code: str = Field(description="The precise reason, stable for clients to branch on.")
    message: str = Field(description="A human-readable explanation.")
    param: str | None = Field(default=None, description="The first offending parameter, if any.")
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem.")
    errors: list[FieldError] | None = Field(
        default=None, description="Every field error of a 422 (the submitted values are omitted)."
    )


class ErrorBody(BaseModel):
    """What every 4xx and 5xx answer of every service carries."""

    error: ErrorDetail


class ApiError(Exception):
    """Raise from a route for a typed answer: `raise ApiError(409, "run_active", "…", param=…)`."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        type: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = dict(headers or {})
        self.type = type
        self.extra = dict(extra or {})


def request_id_of(request: Request) -> str:
    state = request.scope.get("state") or {}
    rid = state.get("request_id") if isinstance(state, dict) else None
    return str(rid or uuid.uuid4().hex)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    type: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: Sequence[FieldError] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    default_type, default_code = STATUS_DEFAULTS.get(
        status, ("api_error" if status >= 500 else "invalid_request_error", f"http_{status}")
    )
    rid = request_id_of(request)
    body: dict[str, Any] = {
        "type": type or default_type,
        "code": code or default_code,
        "message": _clip(message),
        "param": param,
        "request_id": rid,
    }
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    body.update(extra or {})
    return JSONResponse(
        {"error": body}, status_code=status, headers={**(headers or {}), "X-Request-Id": rid}
    )


def field_errors(raw: Sequence[Any]) -> list[FieldError]:
    """Pydantic's errors without `input`, `ctx` or documentation links."""
    out = []
    for err in list(raw)[:MAX_FIELD_ERRORS]:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            where, loc = loc[0], loc[1:]
        else:
            where = ""
        param = ".".join(loc) or where or "body"
        if err.get("type") == "json_invalid":  # its location is a byte offset, not a field
            param = "body"
        out.append(
            FieldError(param=param, code=str(err.get("type", "invalid")), message=_clip(err["msg"]))
        )
    return out


def _validation(request: Request, raw: Sequence[Any]) -> JSONResponse:
    errors = field_errors(raw)
    first = errors[0] if errors else FieldError(param="body", code="invalid", message="invalid")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(
        request,
        422,
        f"{first.param}: {first.message}{more}",
        code="parameter_invalid",
        param=first.param,
        errors=errors,
    )


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/<something>+json`, parameters (charset) aside: what
    FastAPI parses as JSON."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def not_json_response(request: Request) -> JSONResponse:
    """415 for a JSON route sent a body of another media type, or of none."""
    sent = request.headers.get("content-type")
    return error_response(
        request,
        415,
        f"the body must be JSON: send it with Content-Type: application/json (sent: {sent})"
        if sent
        else "the body must be JSON: send it with Content-Type: application/json (sent none)",
        param="Content-Type",
    )


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # A JSON route given a body it did not parse as JSON (no Content-Type, a form, text): FastAPI
    # validates the raw bytes and calls it an invalid field; the media type is what is wrong.
    if (
        isinstance(getattr(exc, "body", None), bytes | bytearray)
        and exc.body
        and not is_json(request.headers.get("content-type"))
        and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())
    ):
        return not_json_response(request)
    return _validation(request, exc.errors())


async def _on_pydantic(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    return _validation(request, exc.errors(include_url=False, include_input=False))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail: Any = exc.detail
    code = param = None
    if isinstance(detail, Mapping):
        code, param = detail.get("code"), detail.get("param")
        message = str(detail.get("message") or detail.get("detail") or "")
    elif isinstance(detail, list) and all(isinstance(e, Mapping) and "msg" in e for e in detail):
        return _validation(request, detail)
    else:
        message = str(detail)
    return error_response(
        request, exc.status_code, message, code=code, param=param, headers=exc.headers
    )


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        request,
        exc.status,
        exc.message,
        code=exc.code,
        param=exc.param,
        type=exc.type,
        headers=exc.headers,
        extra=exc.extra,
    )


def _database_failure_kind(exc: BaseException) -> str:
    """`data`, `conflict`, `unavailable` or `other`, from the driver errors behind a SQLAlchemy
    one: PostgreSQL's SQLSTATE where there is one, asyncpg's client-side classes otherwise."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        names = {cls.__name__ for cls in type(seen).__mro__}
        state = str(getattr(seen, "sqlstate", "") or getattr(seen, "pgcode", "") or "")
        if state.startswith("22") or "DataError" in names or "OverflowError" in names:
            return "data"
        if state.startswith("23") or "IntegrityError" in names:
            return "conflict"
        if (
            state.startswith(("08", "57P", "53", "40001", "40P01"))
            or "ConnectionError" in names
            or "OperationalError" in names
            or "TimeoutError" in names
            or "ConnectionDoesNotExistError" in names
        ):
            return "unavailable"
        seen = getattr(seen, "orig", None) or seen.__cause__
    return "other"


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    # The driver's text names the SQL statement and its parameters: never shown to the caller.
    kind = _database_failure_kind(exc)
    if kind == "data":
        log.warning("database refused a value", error=type(exc).__name__, path=request.url.path)
        return error_response(
            request,
            422,
            "a value is out of range or malformed for its field",
            code="value_out_of_range",
        )
    if kind == "conflict":
        log.warning("database constraint refused a write", path=request.url.path)
        return error_response(
            request, 409, "the request conflicts with the current state", code="conflict"
        )
    if kind == "unavailable":
        log.warning("database unavailable", error=type(exc).__name__, path=request.url.path)
        return error_response(
            request,
            503,
            "the database is unavailable or busy; retry shortly",
            code="database_unavailable",
            headers={"Retry-After": RETRY_AFTER_S},
        )
    raise exc  # a genuine bug: the request-id middleware answers 500 and logs the stack


async def _on_upstream(request: Request, exc: Exception) -> JSONResponse:
    target = ""
    upstream_request = getattr(exc, "_request", None)
    if upstream_request is not None:
        target = f" ({upstream_request.url.host}:{upstream_request.url.port})"
    if isinstance(exc, httpx.TimeoutException):
        status, code, what = 504, "upstream_timeout", "did not answer in time"
    elif isinstance(exc, httpx.TransportError):
        status, code, what = 503, "upstream_unavailable", "cannot be reached"
    else:  # HTTPStatusError and the rest: the upstream answered, but not usefully
        status, code, what = 502, "upstream_error", "answered with an error"
        if isinstance(exc, httpx.HTTPStatusError):
            what = f"answered {exc.response.status_code}"
    log.warning("upstream failure", error=type(exc).__name__, target=target, status=status)
    return error_response(
        request,
        status,
        f"a service this request depends on{target} {what}; retry shortly",
        code=code,
        headers={"Retry-After": RETRY_AFTER_S},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(ValidationError, _on_pydantic)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(sa_exc.DBAPIError, _on_database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _on_database_error)  # pool exhausted
    app.add_exception_handler(httpx.HTTPError, _on_upstream)


def internal_error_body(request_id: str) -> dict[str, Any]:
    return {
        "error": {
            "type": "api_error",
            "code": "internal_error",
            "message": "an unexpected error occurred; it has been logged with this request id",
            "param": None,
            "request_id": request_id,
        }
    }
