"""The one route table of `/v1`: every public route, the service that owns it, the internal path
it maps to and the least role that may call it. `proxy.py` turns each row into a documented
FastAPI route; nothing else is hand-written per route.

Roles (DESIGN §7): viewers read; editors change content and start runs; admins manage sites,
integrations and billing; owners everything. `platform` rows are for the operator only."""

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

ROUTES: tuple[Route, ...] = (
    # -- sites and integrations (integration)
    _r("GET", "/sites", "integration", None, V, "List sites", paged=True),
    _r(
        "POST",
        "/sites",
        "integration",
        None,
        A,
        "Create a site",
        body="json",
        creates=True,
        status=201,
    ),
    _r("GET", "/sites/{site_id}", "integration", None, V, "Read a site"),
    _r("PATCH", "/sites/{site_id}", "integration", None, A, "Change a site", body="json"),
    _r("DELETE", "/sites/{site_id}", "integration", None, A, "Delete a site", status=204),
    _r(
        "POST",
        "/sites/{site_id}/integrations",
        "integration",
        None,
        A,
        "Connect a platform to a site",
        body="json",
        creates=True,
        status=201,
        tag="integrations",
    ),
    _r(
        "GET",
        "/sites/{site_id}/integrations",
        "integration",
        None,
        V,
        "List a site's integrations",
        tag="integrations",
    ),
    _r(
        "GET",
        "/sites/{site_id}/inventory",
        "integration",
        None,
        V,
        "The site's synced categories, tags and posts",
        paged=True,
    ),
    _r("GET", "/integrations/{integration_id}", "integration", None, V, "Read an integration"),
    _r(
        "PATCH",
        "/integrations/{integration_id}",
        "integration",
        None,
        A,
        "Change an integration",
        body="json",
    ),
    _r(
        "DELETE",
        "/integrations/{integration_id}",
        "integration",
        None,
        A,
        "Remove an integration",
        status=204,
    ),
    _r(
        "POST", "/integrations/{integration_id}/test", "integration", None, A, "Test the connection"
    ),
    _r("POST", "/integrations/{integration_id}/sync", "integration", None, A, "Sync now"),
    _r(
        "GET",
        "/integrations/{integration_id}/health",
        "integration",
        None,
        V,
        "Health score and recent attempts",
    ),
    # -- automation: configuration, keywords, pipeline objects, runs
    _r(
        "GET",
        "/sites/{site_id}/config",
        "automation",
        None,
        V,
        "Automation configuration",
        tag="automation",
    ),
    _r(
        "PUT",
        "/sites/{site_id}/config",
        "automation",
        None,
        E,
        "Replace the automation configuration",
        body="json",
        tag="automation",
    ),
    _r(
        "POST",
        "/sites/{site_id}/keywords",
        "automation",
        None,
        E,
        "Upload keywords (CSV or JSON)",
        body="keywords",
        creates=True,
        status=201,
        tag="keywords",
    ),
    *(
        _r(
            "GET",
            f"/sites/{{site_id}}/{kind}",
            "automation",
            None,
            V,
            f"List {kind}",
            paged=True,
            tag=kind,
        )
        for kind in LISTS
    ),
    *(
        _r(
            "GET",
            f"/sites/{{site_id}}/{kind}/{{item_id}}",
            "automation",
            None,
            V,
            f"Read one of the {kind}",
            tag=kind,
        )
        for kind in LISTS
    ),
    *(
        _r(
            "PATCH",
            f"/sites/{{site_id}}/{kind}/{{item_id}}",
            "automation",
            None,
            E,
            f"Edit one of the {kind}",
            body="json",
            tag=kind,
        )
        for kind in EDITABLE
    ),
    *(
        _r(
            "DELETE",
            f"/sites/{{site_id}}/{kind}/{{item_id}}",
            "automation",
            None,
            E,
            f"Delete one of the {kind}",
            status=204,
            tag=kind,
        )
        for kind in EDITABLE
    ),
    _r(
        "POST",
        "/sites/{site_id}/content/{item_id}/regenerate",
        "automation",
        "/sites/{site_id}/content/{item_id}/regenerate",
        E,
        "Regenerate an article",
        tag="content",
    ),
    _r(
        "POST",
        "/sites/{site_id}/runs/estimate",
        "automation",
        None,
        E,
        "Estimate a run's credits",
        body="json",
        tag="runs",
    ),
    _r(
        "POST",
        "/sites/{site_id}/runs",
        "automation",
        None,
        E,
        "Start a run",
        body="json",
        creates=True,
        status=201,
        tag="runs",
    ),
    _r(
        "GET",
        "/sites/{site_id}/runs",
        "automation",
        None,
        V,
        "List a site's runs",
        paged=True,
        tag="runs",
    ),
    _r("GET", "/runs/{run_id}", "automation", None, V, "Read a run"),
    *(
        _r("POST", f"/runs/{{run_id}}/{action}", "automation", None, E, f"{action.title()} a run")
        for action in ("pause", "resume", "cancel")
    ),
    _r("GET", "/runs/{run_id}/trace", "automation", None, V, "A run's step-by-step trace"),
    _r("GET", "/images/{image_id}", "automation", None, V, "An image file"),
    # -- credits and billing (billing)
    _r(
        "GET",
        "/credits/balance",
        "billing",
        "/accounts/{account}/balance",
        V,
        "Available and held credits",
    ),
    _r(
        "GET",
        "/credits/transactions",
        "billing",
        "/accounts/{account}/transactions",
        V,
        "Credit transactions, newest first",
        paged=True,
        tag="credits",
    ),
    _r(
        "GET",
        "/credits/usage",
        "billing",
        "/accounts/{account}/usage",
        V,
        "Credit usage",
        tag="credits",
    ),
    _r(
        "POST",
        "/credits/grants",
        "billing",
        "/accounts/{account}/grants",
        A,
        "Grant credits (operator only)",
        body="json",
        creates=True,
        status=201,
        platform=True,
        tag="credits",
    ),
    _r("GET", "/prices", "billing", "/costs", V, "What each operation costs in credits"),
    _r(
        "GET",
        "/billing/settings",
        "billing",
        "/accounts/{account}/settings",
        V,
        "Billing settings (low-balance threshold)",
        tag="billing",
    ),
    _r(
        "PUT",
        "/billing/settings",
        "billing",
        "/accounts/{account}/settings",
        A,
        "Replace billing settings",
        body="json",
        tag="billing",
    ),
    _r(
        "PATCH",
        "/billing/settings",
        "billing",
        "/accounts/{account}/settings",
        A,
        "Change billing settings",
        body="json",
        tag="billing",
    ),
    _r("GET", "/plans", "billing", None, V, "Plans on offer", tag="billing"),
    _r("GET", "/packages", "billing", None, V, "Credit packages on offer", tag="billing"),
    _r(
        "GET",
        "/billing/profile",
        "billing",
        "/accounts/{account}/billing-profile",
        V,
        "Billing profile",
        tag="billing",
    ),
    _r(
        "PUT",
        "/billing/profile",
        "billing",
        "/accounts/{account}/billing-profile",
        A,
        "Replace the billing profile",
        body="json",
        tag="billing",
    ),
    _r(
        "GET",
        "/subscription",
        "billing",
        "/accounts/{account}/subscription",
        V,
        "The current subscription",
        tag="billing",
    ),
    _r(
        "POST",
        "/subscription",
        "billing",
        "/accounts/{account}/subscription",
        A,
        "Subscribe to a plan",
        body="json",
        creates=True,
        status=201,
        tag="billing",
    ),
    _r(
        "PUT",
        "/subscription",
        "billing",
        "/accounts/{account}/subscription",
        A,
        "Change plan",
        body="json",
        tag="billing",
    ),
    _r(
        "DELETE",
        "/subscription",
        "billing",
        "/accounts/{account}/subscription",
        A,
        "Cancel the subscription",
        tag="billing",
    ),
    _r(
        "POST",
        "/package-purchases",
        "billing",
        "/accounts/{account}/package-purchases",
        A,
        "Buy a credit package",
        body="json",
        creates=True,
        status=201,
        tag="billing",
    ),
    _r(
        "GET",
        "/invoices",
        "billing",
        "/accounts/{account}/invoices",
        V,
        "Invoices",
        paged=True,
        tag="billing",
    ),
    _r(
        "GET",
        "/invoices/{invoice_id}",
        "billing",
        "/accounts/{account}/invoices/{invoice_id}",
        V,
        "An invoice",
        tag="billing",
    ),
    _r(
        "GET",
        "/invoices/{invoice_id}/pdf",
        "billing",
        "/accounts/{account}/invoices/{invoice_id}/pdf",
        V,
        "An invoice as PDF",
        tag="billing",
    ),
    _r(
        "POST",
        "/invoices/{invoice_id}/pay",
        "billing",
        "/accounts/{account}/invoices/{invoice_id}/pay",
        A,
        "Pay an invoice",
        body="json",
        tag="billing",
    ),
    _r(
        "GET",
        "/credit-notes",
        "billing",
        "/accounts/{account}/credit-notes",
        V,
        "Credit notes",
        tag="billing",
    ),
    _r("GET", "/payments", "billing", "/accounts/{account}/payments", V, "Payments", tag="billing"),
    _r(
        "POST",
        "/webhooks/stripe",
        "billing",
        "/webhooks/stripe",
        V,
        "Stripe webhook (the Stripe-Signature header authenticates it)",
        body="raw",
        public=True,
        tag="webhooks",
    ),
    # -- publishing
    _r(
        "GET",
        "/sites/{site_id}/publishing-settings",
        "publishing",
        "/sites/{site_id}/settings",
        V,
        "Publishing settings",
        tag="publications",
    ),
    _r(
        "PUT",
        "/sites/{site_id}/publishing-settings",
        "publishing",
        "/sites/{site_id}/settings",
        A,
        "Replace publishing settings",
        body="json",
        tag="publications",
    ),
    _r(
        "GET",
        "/sites/{site_id}/publications",
        "publishing",
        None,
        V,
        "Publications",
        paged=True,
        tag="publications",
    ),
    _r(
        "GET",
        "/sites/{site_id}/publications/{publication_id}",
        "publishing",
        None,
        V,
        "A publication",
        tag="publications",
    ),
    *(
        _r(
            "POST",
            f"/sites/{{site_id}}/publications/{{publication_id}}/{action}",
            "publishing",
            None,
            E,
            f"Publication: {action}",
            body="json",
            tag="publications",
        )
        for action in PUBLICATION_ACTIONS
    ),
    _r(
        "GET",
        "/sites/{site_id}/articles/{content_id}/report",
        "publishing",
        None,
        V,
        "An article's publishing report",
        tag="publications",
    ),
    _r(
        "GET",
        "/sites/{site_id}/articles/{content_id}/html",
        "publishing",
        None,
        V,
        "An article's rendered HTML",
        tag="publications",
    ),
    _r("GET", "/sites/{site_id}/links", "publishing", None, V, "Internal links", tag="links"),
    _r(
        "POST",
        "/sites/{site_id}/links/{link_id}/undo",
        "publishing",
        None,
        E,
        "Undo an internal link",
        tag="links",
    ),
    _r(
        "GET",
        "/sites/{site_id}/link-suggestions",
        "publishing",
        None,
        V,
        "Link suggestions",
        tag="links",
    ),
    *(
        _r(
            "POST",
            f"/sites/{{site_id}}/link-suggestions/{{suggestion_id}}/{verb}",
            "publishing",
            None,
            E,
            f"{verb.title()} a link suggestion",
            tag="links",
        )
        for verb in ("accept", "reject")
    ),
    _r(
        "GET",
        "/sites/{site_id}/link-graph",
        "publishing",
        None,
        V,
        "The site's link graph",
        tag="links",
    ),
)
