"""The gateway documents each forwarded operation with the owning service's models (copied from
the services' OpenAPI documents by `make openapi`; `make lint` checks both for drift)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[4] / "docs" / "openapi"


def load(name: str) -> dict[str, Any]:
    return json.loads((DOCS / f"{name}.json").read_text())


def test_forwarded_operations_carry_the_services_models_and_every_ref_resolves():
    gateway = load("gateway")
    schemas = gateway["components"]["schemas"]
    prices = gateway["paths"]["/v1/prices"]["get"]["responses"]["200"]["content"]
    assert prices["application/json"]["schema"] == {"$ref": "#/components/schemas/billing.Costs"}
    assert schemas["billing.Costs"] == json.loads(
        json.dumps(load("billing")["components"]["schemas"]["Costs"]).replace(
            "#/components/schemas/", "#/components/schemas/billing."
        )
    )
    site = gateway["paths"]["/v1/sites"]["post"]["requestBody"]["content"]["application/json"]
    assert site["schema"]["$ref"].startswith("#/components/schemas/integration.")
    refs = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and "/schemas/" in node["$ref"]:
                refs.add(node["$ref"].rsplit("/", 1)[1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(gateway)
    assert refs and refs <= set(schemas), refs - set(schemas)
