"""The one table mapping domain errors to HTTP statuses."""

from __future__ import annotations

from publishing.domain import errors

ERROR_TABLE: dict[type[errors.PublishingError], int] = {
    errors.NotFound: 404,
    errors.InvalidTransition: 409,
    errors.QueueFull: 409,
    errors.InvalidSettings: 422,
    errors.LinkNotUndoable: 409,
    errors.NothingToOptimize: 409,
    errors.DestinationFailure: 502,
}


def http_status(error: errors.PublishingError) -> int:
    return ERROR_TABLE.get(type(error), 422)
