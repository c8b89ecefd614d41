"""`/v1` routes owned by integration (rows of the route table in `routes.py`)."""

from __future__ import annotations

from gateway.entrypoints.route_table import A, Route, V, _r

INTEGRATION_ROUTES: tuple[Route, ...] = (
    # -- sites and integrations (integration)
    _r("GET", "/sites", "integration", None, V, "List sites", paged=True, paging="offset"),
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
        paging="offset",
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
)
