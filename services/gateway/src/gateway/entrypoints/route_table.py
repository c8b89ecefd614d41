"""The row type of `/v1`'s route table and the helpers the per-service tables share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.domain.model import Role

V, E, A = Role.VIEWER, Role.EDITOR, Role.ADMIN
Body = Literal["json", "keywords", "raw", None]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """Public path, after `/v1`."""
    service: str
    upstream: str
    """Internal path; `{account}` is the caller's account, other `{names}` the path parameters."""
    role: Role
    summary: str
    tag: str
    body: Body = None
    creates: bool = False
    """A creating POST: `Idempotency-Key` is honoured (stored with the response)."""
    paged: bool = False
    paging: Literal["cursor", "offset"] = "cursor"
    """How the owning service pages a `paged` list: the parameter the gateway documents beside
    `limit` (it forwards every query parameter)."""
    platform: bool = False
    public: bool = False
    """No user token: the upstream authenticates the request itself (the Stripe webhook)."""
    status: int = 200


def _r(
    method: str,
    path: str,
    service: str,
    upstream: str | None,
    role: Role,
    summary: str,
    **kw: object,
) -> Route:
    tag = kw.pop("tag", None) or path.strip("/").split("/")[0]
    return Route(method, path, service, upstream or path, role, summary, str(tag), **kw)  # type: ignore[arg-type]


LISTS = ("keywords", "clusters", "ideas", "tasks", "content", "images")
EDITABLE = ("keywords", "clusters", "ideas", "tasks", "content")
PUBLICATION_ACTIONS = (
    "approve",
    "republish",
    "publish-now",
    "reschedule",
    "reject",
    "cancel",
    "unpublish",
)
PUBLICATION_ACTIONS_WITH_BODY = frozenset({"reschedule", "reject"})
"""Only these take a body (the new time; the reason, optional): the others are bare POSTs."""
