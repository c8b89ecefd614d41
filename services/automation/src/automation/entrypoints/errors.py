"""The one table from automation's typed domain errors to HTTP statuses. Routes raise domain
errors; the route class turns them into HTTPException, which the app's common error format
renders (igny8.runtime)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from automation.domain.errors import (
    AutomationError,
    ImportTooLarge,
    InvalidInput,
    NotFound,
    ProviderMissing,
    RunConflict,
    UnreadableImport,
)

STATUS: dict[type[AutomationError], int] = {
    InvalidInput: 422,
    UnreadableImport: 400,
    ImportTooLarge: 413,
    NotFound: 404,
    RunConflict: 409,
    ProviderMissing: 503,
}


def to_http(error: AutomationError) -> HTTPException:
    status = next((s for t, s in STATUS.items() if isinstance(error, t)), 422)
    return HTTPException(status_code=status, detail=error.detail)


class DomainErrorRoute(APIRoute):
    """Every route of the router maps domain errors through `STATUS`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except AutomationError as error:
                raise to_http(error) from None

        return route
