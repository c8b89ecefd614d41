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


def untyped(schema: Any) -> bool:
    """No schema, `{}`, or an object that names no property (`{"type": "object"}`, a dict)."""
    if not isinstance(schema, dict) or not schema:
        return True
    if "$ref" in schema or any(k in schema for k in ("oneOf", "anyOf", "allOf")):
        return False
    if schema.get("type") == "object":
        return not schema.get("properties") and not isinstance(
            schema.get("additionalProperties"), dict
        )
    if schema.get("type") == "array":
        return untyped(schema.get("items"))
    return False


def test_every_v1_operation_has_a_typed_request_and_answer():
    found: dict[str, list[str]] = {}
    for path, item in load("gateway")["paths"].items():
        if not path.startswith("/v1"):
            continue
        for method, operation in item.items():
            name, gaps = f"{method.upper()} {path}", []
            for media, body in (operation.get("requestBody") or {}).get("content", {}).items():
                if media != "text/csv" and untyped(body.get("schema")):
                    gaps.append(f"request {media}")
            for status, answer in operation["responses"].items():
                if not status.startswith("2") or status == "204":
                    continue
                content = answer.get("content") or {}
                if not content:
                    gaps.append(f"{status} has no content")
                gaps += [f"{status} {m}" for m, b in content.items() if untyped(b.get("schema"))]
            if gaps:
                found[name] = gaps
    assert found == {}


def all_refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(all_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(all_refs(v) for v in node))
    return set()


def test_every_ref_of_every_document_resolves():
    for name in ("gateway", "billing", "automation", "integration", "publishing"):
        doc = load(name)
        refs = all_refs(doc)
        dangling = set()
        for ref in refs:
            target: Any = doc
            for part in ref.removeprefix("#/").split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            if target is None:
                dangling.add(ref)
        assert refs and not dangling, (name, dangling)


def test_untyped_sees_the_shapes_it_must_refuse():
    assert untyped({}) and untyped({"type": "object"}) and untyped(None)
    assert untyped({"type": "object", "additionalProperties": True, "title": "Response"})
    assert untyped({"type": "array", "items": {}})
    assert not untyped({"$ref": "#/components/schemas/billing.Costs"})
    assert not untyped({"type": "string", "format": "binary"})
    assert not untyped({"type": "object", "properties": {"id": {"type": "string"}}})


def test_every_status_a_service_documents_is_declared_by_the_gateway_route():
    """A caller of `/v1` can get what the owning service answers: starting a run answers 402 when
    credits are short and 202 while billing is waited for (both were missing)."""
    import re

    from gateway.entrypoints.routes import ROUTES

    def shape(path: str) -> str:
        return re.sub(r"{[^}]+}", "{}", path)

    gateway = load("gateway")["paths"]
    documents = {
        name: load(name) for name in ("billing", "automation", "integration", "publishing")
    }
    missing: dict[str, list[str]] = {}
    for route in ROUTES:
        upstream = {
            shape(path): item for path, item in documents[route.service]["paths"].items()
        }.get(shape(route.upstream), {}).get(route.method.lower())
        if upstream is None:
            continue
        declared = set(gateway[f"/v1{route.path}"][route.method.lower()]["responses"])
        gaps = sorted(set(upstream["responses"]) - declared)
        if gaps:
            missing[f"{route.method} {route.path}"] = gaps
    assert missing == {}
    start = gateway["/v1/sites/{site_id}/runs"]["post"]["responses"]
    assert "credits" in start["402"]["description"]
    assert start["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/automation.Run"
    }
