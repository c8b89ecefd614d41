"""The request and response schemas of every `/v1` route the gateway forwards, taken from the
owning service's OpenAPI document, so the gateway documents each operation's real models instead
of a generic JSON object. Written to the gateway package (it serves its document without the
repository's docs/) by `scripts/openapi.py`, which regenerates and drift-checks it."""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.entrypoints.routes import ROUTES

PARAM = re.compile(r"{[^}]+}")
REF = "#/components/schemas/"


def _shape(path: str) -> str:
    return PARAM.sub("{}", path)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            found.add(ref[len(REF) :])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _renamed(node: Any, service: str, known: set[str]) -> Any:
    """The schema with its references renamed `<service>.<Model>`; a reference the service's
    document does not define (a gap in that document) becomes an unconstrained schema, so the
    gateway's document stays valid."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            name = ref[len(REF) :]
            return {"$ref": f"{REF}{service}.{name}"} if name in known else {}
        return {k: _renamed(v, service, known) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, service, known) for v in node]
    return node


def _json_schema(content: dict[str, Any] | None) -> Any:
    return ((content or {}).get("application/json") or {}).get("schema")


def extract(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`{"operations": {"<METHOD> <public path>": {"request", "response"}}, "schemas": {...}}`."""
    operations: dict[str, dict[str, Any]] = {}
    needed: dict[str, set[str]] = {}
    for route in ROUTES:
        doc = documents.get(route.service)
        if doc is None or route.public:
            continue
        upstream = {_shape(p): item for p, item in doc.get("paths", {}).items()}
        operation = (upstream.get(_shape(route.upstream)) or {}).get(route.method.lower())
        if operation is None:
            continue
        request = _json_schema((operation.get("requestBody") or {}).get("content"))
        success = (operation.get("responses") or {}).get(str(route.status)) or {}
        response = _json_schema(success.get("content"))
        found = {}
        known = set(doc.get("components", {}).get("schemas", {}))
        if request and route.body in ("json", "keywords"):
            found["request"] = _renamed(request, route.service, known)
        if response and route.status != 204:
            found["response"] = _renamed(response, route.service, known)
        if found:
            operations[f"{route.method} {route.path}"] = found
            refs = needed.setdefault(route.service, set())
            refs |= _refs([request if "request" in found else None, response])
    schemas: dict[str, Any] = {}
    for service, refs in needed.items():
        components = documents[service].get("components", {}).get("schemas", {})
        todo = set(refs)
        while todo:  # the models the operations name, and the models those name
            name = todo.pop()
            key = f"{service}.{name}"
            if key in schemas or name not in components:
                continue
            schemas[key] = _renamed(components[name], service, set(components))
            todo |= _refs(components[name])
    return {
        "operations": dict(sorted(operations.items())),
        "schemas": dict(sorted(schemas.items())),
    }


def render(documents: dict[str, dict[str, Any]]) -> str:
    return json.dumps(extract(documents), indent=1, sort_keys=True) + "\n"
