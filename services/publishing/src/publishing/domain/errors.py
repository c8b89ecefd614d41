"""Typed domain failures. One table in the entrypoints maps each to an HTTP status."""

from __future__ import annotations


class PublishingError(Exception):
    reason: str = "invalid"

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        super().__init__(detail or self.reason)


class NotFound(PublishingError):
    reason = "resource_missing"


class InvalidTransition(PublishingError):
    """The publication's state does not allow this action."""

    reason = "invalid_transition"


class QueueFull(PublishingError):
    reason = "queue_full"


class InvalidSettings(PublishingError):
    reason = "invalid_settings"


class LinkNotUndoable(PublishingError):
    reason = "link_not_undoable"


class DestinationFailure(PublishingError):
    """A destination refused or failed. `permanent` failures (401/403/404/422, bad settings,
    a customer's edit) are not retried; the others are, with backoff."""

    reason = "destination_failed"

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        permanent: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class UnknownSite(PublishingError):
    """An article for a site whose snapshot has not arrived (yet): the consumer retries it with
    backoff and, if the site never appears, dead-letters it for a replay."""

    reason = "unknown_site"


class NothingToOptimize(PublishingError):
    """Every check the optimizer can act on passes already."""

    reason = "nothing_to_optimize"
