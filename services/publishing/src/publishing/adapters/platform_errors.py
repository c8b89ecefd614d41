"""One translation of platform answers into DestinationFailure (permanent or transient)."""

from __future__ import annotations

import httpx

from igny8.platforms import PlatformFailure
from igny8.platforms.base import retry_after
from publishing.domain.errors import DestinationFailure

#: statuses that retrying never fixes (issue 10 §4)
PERMANENT_STATUSES = {
    400: "bad_request",
    401: "bad_credentials",
    403: "missing_permissions",
    404: "not_found",
    410: "not_found",
    422: "invalid_content",
}
PERMANENT_REASONS = frozenset(
    {
        "bad_credentials",
        "missing_permissions",
        "blocked_url",
        "no_rest_api",
        "no_admin_api",
        "application_passwords_disabled",
        "tls_error",
    }
)


def from_platform(failure: PlatformFailure) -> DestinationFailure:
    transient_5xx = failure.reason == "unexpected_response" and "HTTP 5" in failure.detail
    permanent = failure.reason in PERMANENT_REASONS or (
        failure.reason == "unexpected_response" and not transient_5xx
    )
    return DestinationFailure(failure.reason, failure.detail, permanent=permanent)


def check(answer: httpx.Response, what: str) -> None:
    """Raise for anything but 2xx: 4xx of the table are permanent, 429 and 5xx transient."""
    if answer.is_success:
        return
    detail = f"{what}: HTTP {answer.status_code} {_message(answer)}"[:500]
    if answer.status_code == 501:  # WordPress: application passwords unavailable
        raise DestinationFailure("application_passwords_disabled", detail, permanent=True)
    if answer.status_code in PERMANENT_STATUSES:
        raise DestinationFailure(PERMANENT_STATUSES[answer.status_code], detail, permanent=True)
    if answer.status_code == 429:
        raise DestinationFailure("rate_limited", detail, retry_after=retry_after(answer))
    raise DestinationFailure("unavailable", detail)


def _message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("code") or "") + " " + str(body.get("message") or "")
    return ""
