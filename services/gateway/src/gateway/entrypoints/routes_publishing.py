"""`/v1` routes owned by publishing (rows of the route table in `routes.py`)."""

from __future__ import annotations

from gateway.entrypoints.route_table import (
    PUBLICATION_ACTIONS,
    PUBLICATION_ACTIONS_WITH_BODY,
    A,
    E,
    Route,
    V,
    _r,
)

PUBLISHING_ROUTES: tuple[Route, ...] = (
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
            body="json" if action in PUBLICATION_ACTIONS_WITH_BODY else None,
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
    _r(
        "POST",
        "/sites/{site_id}/articles/{content_id}/optimize",
        "publishing",
        None,
        E,
        "Optimize an article with AI (paid in credits)",
        status=202,
        tag="optimization",
    ),
    _r(
        "GET",
        "/sites/{site_id}/articles/{content_id}/optimizations",
        "publishing",
        None,
        V,
        "An article's optimizations",
        tag="optimization",
    ),
    _r(
        "GET",
        "/sites/{site_id}/optimizations/{optimization_id}",
        "publishing",
        None,
        V,
        "An optimization: scores before and after, the diff, credits",
        tag="optimization",
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
