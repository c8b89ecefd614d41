"""The OpenAPI document every service publishes: its security schemes and one error model.

Routes declare their own success models and the domain statuses they can answer
(`responses=errors(402, 409)`); `finish_openapi` adds what is common to all of them: the service
token and tenant header as security schemes (instead of header parameters), 401/403 on every
secured operation, 422 on every operation with parameters, 415 on every one with a JSON body,
and 500 everywhere — all with the `ErrorBody` model instead of FastAPI's `HTTPValidationError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from igny8.webapi.errors import ErrorBody

DESCRIPTIONS = {
    400: "Malformed request (e.g. a header that is not a UUID).",
    401: "No service token, or an invalid or expired one.",
    402: "Not enough credits.",
    403: "The calling service or the user's roles may not do this.",
    404: "Not found — also what another account's object answers.",
    405: "Method not allowed.",
    409: "Conflicts with the current state.",
    413: "Request body too large.",
    415: "The body is not JSON: send it with `Content-Type: application/json`.",
    422: "A parameter or field is invalid; `error.errors` lists every field.",
    429: "Rate limited; retry after `Retry-After`.",
    500: "Unexpected error; logged with the request id.",
    502: "An upstream service answered with an error.",
    503: "An upstream service or the database is unavailable; retry after `Retry-After`.",
    504: "An upstream service did not answer in time.",
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_SECURITY_HEADERS = {"authorization", "x-account-id"}
_OPS_PATHS = {"/healthz", "/readyz", "/metrics"}
_SCHEME_EXTENSION = "x-igny8-security-scheme"
"""Where `signed_by` carries its scheme to `finish_openapi` (removed from the document)."""


def errors(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the error statuses a route can answer (beyond the common ones)."""
    return {
        status: {
            "model": ErrorBody,
            "description": descriptions.get(f"s{status}", DESCRIPTIONS.get(status, "Error.")),
        }
        for status in statuses
    }


def signed_by(scheme: str, header: str, description: str) -> dict[str, Any]:
    """`openapi_extra=` for a route authenticated by something other than a service token — a
    provider's signature header (Stripe's webhooks): the operation's security names `scheme`, an
    apiKey header scheme `finish_openapi` adds to the document's components. The fuzz harness
    (`igny8.fuzz`) reads it and checks an unsigned request is refused (400 or 401) instead of
    expecting the service token's 401."""
    return {
        "security": [{scheme: []}],
        _SCHEME_EXTENSION: {
            scheme: {"type": "apiKey", "in": "header", "name": header, "description": description}
        },
    }


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": _ERROR_REF}},
    }


def finish_openapi(app: FastAPI, version: str = "1.0.0") -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=version,
            description=app.description,
            routes=app.routes,
        )
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schemas.update(schemas["ErrorBody"].pop("$defs", {}))
        components["headers"] = {
            "X-Request-Id": {
                "description": "The caller's X-Request-Id, or a new one; also in the logs.",
                "schema": {"type": "string"},
            },
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "string"},
            },
        }
        components["securitySchemes"] = {
            "serviceToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A service JWT (`sub` = caller, `aud` = this service, lifetime at "
                "most 5 minutes): `igny8 service-token --from gateway --to <service>`.",
            },
            "accountId": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Account-Id",
                "description": "The tenant (account UUID) the call acts for. The user's roles "
                "travel in `X-Roles` (comma-separated).",
            },
        }
        for path, item in doc.get("paths", {}).items():
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                components["securitySchemes"].update(operation.pop(_SCHEME_EXTENSION, {}))
                _finish_operation(path, operation)
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = doc
        return doc

    return openapi


def _finish_operation(path: str, operation: dict[str, Any]) -> None:
    params = operation.get("parameters", [])
    secured = any(
        p.get("in") == "header" and p.get("name", "").lower() in _SECURITY_HEADERS for p in params
    )
    operation["parameters"] = [
        p
        for p in params
        if not (p.get("in") == "header" and p.get("name", "").lower() in _SECURITY_HEADERS)
    ]
    for p in operation["parameters"]:
        if p.get("in") == "header" and p.get("name", "").lower() == "x-roles":
            p.setdefault("description", "The user's roles, comma-separated (from the gateway).")
    if not operation["parameters"]:
        del operation["parameters"]
    responses = operation["responses"]
    if secured:
        operation["security"] = [{"serviceToken": [], "accountId": []}]
        for status in (400, 401, 403):
            responses.setdefault(str(status), _error_response(status))
    elif operation.get("security"):  # `signed_by`: authenticated by its own header
        responses.setdefault("400", _error_response(400))
    elif path not in _OPS_PATHS:
        operation["security"] = []
    if "422" in responses or operation.get("parameters") or operation.get("requestBody"):
        responses["422"] = _error_response(422)
    if "application/json" in (operation.get("requestBody") or {}).get("content", {}):
        responses.setdefault("415", _error_response(415))
    for status, answer in responses.items():
        if status.startswith(("4", "5")):
            answer.setdefault("content", {"application/json": {"schema": _ERROR_REF}})
    responses.setdefault("500", _error_response(500))
    for status, answer in responses.items():
        headers = answer.setdefault("headers", {})
        headers["X-Request-Id"] = {"$ref": "#/components/headers/X-Request-Id"}
        if status in ("503", "504", "429"):
            headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
