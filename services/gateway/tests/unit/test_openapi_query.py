"""The gateway forwards every query parameter to the owning service, so its document declares
exactly the query parameters the service declares for that operation — taken from the services'
documents by `make openapi` (`make lint` fails on drift), never listed by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gateway.entrypoints.routes import ROUTES

DOCS = Path(__file__).resolve().parents[4] / "docs" / "openapi"
PARAM = re.compile(r"{[^}]+}")


def load(name: str) -> dict[str, Any]:
    return json.loads((DOCS / f"{name}.json").read_text())


def query_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def by_shape(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path, item in doc["paths"].items():
        found.setdefault(PARAM.sub("{}", path), {}).update(item)
    return found


def test_each_forwarded_operation_declares_the_services_query_parameters():
    gateway = load("gateway")["paths"]
    services = {name: by_shape(load(name)) for name in {r.service for r in ROUTES}}
    compared = 0
    for route in ROUTES:
        upstream = services[route.service][PARAM.sub("{}", route.upstream)][route.method.lower()]
        declared = query_names(gateway["/v1" + route.path][route.method.lower()])
        assert declared == query_names(upstream), (route.method, route.path)
        compared += bool(declared)
    assert compared >= 15


def test_the_reported_parameters_are_declared():
    gateway = load("gateway")["paths"]

    def names(path: str) -> set[str]:
        return query_names(gateway["/v1" + path]["get"])

    assert "stage" in names("/runs/{run_id}/log")
    for kind in ("keywords", "clusters", "ideas", "tasks", "content"):
        assert {"limit", "offset", "cursor", "status"} <= names(f"/sites/{{site_id}}/{kind}")
    assert {"limit", "offset", "cursor"} <= names("/sites/{site_id}/images")
    assert {"limit", "offset", "cursor"} <= names("/sites/{site_id}/runs")
    assert "kind" in names("/sites/{site_id}/inventory")
    assert {"status", "content_id"} <= names("/sites/{site_id}/publications")
    assert "content_id" in names("/sites/{site_id}/links")
    assert "status" in names("/sites/{site_id}/link-suggestions")
    assert {"since", "until", "group_by"} <= names("/credits/usage")
    doc = load("gateway")
    status = next(
        p
        for p in doc["paths"]["/v1/sites/{site_id}/keywords"]["get"]["parameters"]
        if p["name"] == "status"
    )
    ref = status["schema"]["anyOf"][0]["$ref"].rsplit("/", 1)[1]  # the statuses, not any string
    assert doc["components"]["schemas"][ref]["enum"] == ["new", "clustered", "used", "archived"]
