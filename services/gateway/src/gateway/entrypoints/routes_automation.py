"""`/v1` routes owned by automation (rows of the route table in `routes.py`)."""

from __future__ import annotations

from gateway.entrypoints.route_table import EDITABLE, LISTS, E, Route, V, _r

AUTOMATION_ROUTES: tuple[Route, ...] = (
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
        "Regenerate an article (a small run of its own, queued)",
        status=202,
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
    _r("GET", "/runs/{run_id}/log", "automation", None, V, "A run's log (or one stage's) as text"),
    _r("GET", "/images/{image_id}", "automation", None, V, "An image file"),
)
