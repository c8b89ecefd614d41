"""Every row of `/v1`'s route table names an operation the owning service documents: the same
path (parameter names aside), the same method, a success status it answers and a body exactly
when it reads one. The services' documents are generated from their routes and drift-checked by
`make lint`, so a row that points at nothing (or at `/runs/{id}/{action}` when the row says
`/runs/{id}/pause`) fails here rather than as a 404/405 in front of a user."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.entrypoints.routes import ROUTES, Route

DOCS = Path(__file__).resolve().parents[4] / "docs" / "openapi"
PARAM = re.compile(r"{[^}]+}")


def operations(service: str) -> dict[tuple[str, str], dict[str, Any]]:
    doc = json.loads((DOCS / f"{service}.json").read_text())
    return {
        (PARAM.sub("{}", path), method.upper()): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
    }


DOCUMENTED = {s: operations(s) for s in {r.service for r in ROUTES}}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_the_row_names_a_documented_upstream_operation(route: Route):
    operation = DOCUMENTED[route.service].get((PARAM.sub("{}", route.upstream), route.method))
    assert operation is not None, f"{route.service} documents no {route.method} {route.upstream}"
    successes = {s for s in operation["responses"] if s.startswith("2")}
    assert str(route.status) in successes, (route.status, successes)
    assert bool(route.body) == ("requestBody" in operation), "the row and the service disagree"


def test_run_actions_are_three_documented_operations():
    for action in ("pause", "resume", "cancel"):
        (row,) = [r for r in ROUTES if r.path == f"/runs/{{run_id}}/{action}"]
        assert row.upstream == f"/runs/{{run_id}}/{action}"
        assert ("/runs/{}/" + action, "POST") in DOCUMENTED["automation"]
    assert ("/runs/{}/{}", "POST") not in DOCUMENTED["automation"]


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.paged], ids=lambda r: f"{r.method} {r.path}"
)
def test_a_paged_row_pages_the_way_its_service_does(route: Route):
    """The gateway documents `limit` and `cursor` (or `offset`) on a paged row and forwards them:
    the service must take that parameter and answer where the next page starts, or a client
    following the gateway's document reads page one forever (a site's runs took only `offset`
    while the gateway advertised `cursor`; so did sites, inventory and publications)."""
    operation = DOCUMENTED[route.service][(PARAM.sub("{}", route.upstream), route.method)]
    taken = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    assert {"limit", route.paging} <= taken, taken
    doc = json.loads((DOCS / f"{route.service}.json").read_text())
    answer = operation["responses"][str(route.status)]["content"]["application/json"]["schema"]
    model = doc["components"]["schemas"][answer["$ref"].rsplit("/", 1)[1]]
    # an offset list says where it stands (`offset`; the console pages on from `limit`)
    where = "next_cursor" if route.paging == "cursor" else "offset"
    assert where in model["properties"], model["properties"].keys()
    gateway = json.loads((DOCS / "gateway.json").read_text())["paths"][f"/v1{route.path}"]
    advertised = {p["name"] for p in gateway[route.method.lower()].get("parameters", [])}
    assert {"limit", route.paging} <= advertised, advertised
