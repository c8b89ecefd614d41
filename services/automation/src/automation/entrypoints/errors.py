"""The one table from automation's typed domain errors to HTTP answers. Routes raise domain
errors; the route class turns them into `ApiError`, which the platform's one error format renders
(igny8.webapi): `{"error": {type, code, message, param, request_id, …}}`."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from automation.domain.errors import (
    AutomationError,
    InvalidInput,
    NotFound,
    ProviderMissing,
    RunConflict,
    TooLarge,
    UnreadableImport,
)
from igny8.webapi import ApiError

#: domain error → (status, code); the first match wins, so subclasses come first.
STATUS: dict[type[AutomationError], tuple[int, str]] = {
    InvalidInput: (422, "parameter_invalid"),
    UnreadableImport: (400, "unreadable_import"),
    TooLarge: (413, "payload_too_large"),
    NotFound: (404, "resource_missing"),
    RunConflict: (409, "run_conflict"),
    ProviderMissing: (503, "ai_provider_missing"),
}


def to_api_error(error: AutomationError) -> ApiError:
    status, code = next(
        (answer for t, answer in STATUS.items() if isinstance(error, t)),
        (422, "parameter_invalid"),
    )
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(error, RunConflict) and error.run_id is not None:
        code, extra = "run_active", {"run_id": error.run_id}
    if isinstance(error, ProviderMissing):
        headers["Retry-After"] = "60"  # a configuration matter: not worth hammering
    return ApiError(status, code, error.detail, headers=headers, extra=extra)


class DomainErrorRoute(APIRoute):
    """Every route of the router maps domain errors through `STATUS`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except AutomationError as error:
                raise to_api_error(error) from None

        return route
