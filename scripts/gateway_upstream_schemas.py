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
    """The schema with its references renamed `<service>.<Model>`. A reference the service's
    document does not define is a defect of that document: it stops `make openapi` (quietly
    loosening it to `{}` once hid automation's missing `KeywordIn`)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            name = ref[len(REF) :]
            if name not in known:
                raise ValueError(f"{service}'s OpenAPI document names an undefined schema {ref}")
            return {"$ref": f"{REF}{service}.{name}"}
        return {k: _renamed(v, service, known) for k, v in node.items()}
    if isinstance(node, list):
        return [_renamed(v, service, known) for v in node]
    return node


def _json_schema(content: dict[str, Any] | None) -> Any:
    return ((content or {}).get("application/json") or {}).get("schema")


def _other_media(content: dict[str, Any] | None) -> dict[str, Any]:
    """The answer's non-JSON media types (an image, a PDF, a text log) with their schemas."""
    return {
        media: {"schema": body["schema"]}
        for media, body in (content or {}).items()
        if media != "application/json" and "schema" in body
    }


COMMON_STATUSES = frozenset({"400", "401", "403", "500"})
"""Statuses the gateway documents in its own words for every route with a user token: a service's
401/403 are about service tokens, its 500 the gateway maps to 502. A public route (the Stripe
webhook) keeps the service's 400: the signature is the service's to check."""


def _other_statuses(operation: dict[str, Any], status: int, public: bool) -> dict[str, Any]:
    """What else the service documents this operation to answer — another success (202 while
    billing is waited for), 402 for missing credits, its own 409 — with the service's description
    and, for a success, its schema, so the public document declares every status a caller can get."""
    found: dict[str, Any] = {}
    for code, answer in (operation.get("responses") or {}).items():
        common = {"500"} if public else COMMON_STATUSES
        if code == str(status) or code in common or not code.isdigit():
            continue
        entry: dict[str, Any] = {"description": answer.get("description", "")}
        schema = _json_schema(answer.get("content"))
        if code.startswith("2") and schema:
            entry["response"] = schema
        found[code] = entry
    return found


def _by_shape(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Operations by path shape and method: two paths of one shape (`/keywords/{item_id}` read
    by one router, `/keywords/{keyword_id}` edited by another) are one path to a caller."""
    found: dict[str, dict[str, Any]] = {}
    for path, item in doc.get("paths", {}).items():
        found.setdefault(_shape(path), {}).update(item)
    return found


def extract(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """`{"operations": {"<METHOD> <public path>": {"request", "request_required", "response",
    "media", "query", "statuses"}}, "schemas": {...}}` (`media`: the answer's non-JSON media
    types; `query`: the service's query parameters, as it declares them; `statuses`: the other
    statuses the service documents, by code)."""
    operations: dict[str, dict[str, Any]] = {}
    needed: dict[str, set[str]] = {}
    for route in ROUTES:
        doc = documents.get(route.service)
        if doc is None:
            continue
        upstream = _by_shape(doc)
        operation = (upstream.get(_shape(route.upstream)) or {}).get(route.method.lower())
        if operation is None:
            continue
        request = _json_schema((operation.get("requestBody") or {}).get("content"))
        success = (operation.get("responses") or {}).get(str(route.status)) or {}
        response = _json_schema(success.get("content"))
        media = _other_media(success.get("content"))
        raw: dict[str, Any] = {}
        if request and route.body:
            raw["request"] = request
        if response and route.status != 204:
            raw["response"] = response
        if media and route.status != 204:
            raw["media"] = media
        query = [p for p in operation.get("parameters") or [] if p.get("in") == "query"]
        if query:  # the gateway forwards every query parameter: it documents the service's
            raw["query"] = query
        others = _other_statuses(operation, route.status, route.public)
        if others:
            raw["statuses"] = others
        known = set(doc.get("components", {}).get("schemas", {}))
        found = {key: _renamed(value, route.service, known) for key, value in raw.items()}
        if "request" in found:  # a reason to reject is optional: the body may be left out
            found["request_required"] = bool(operation["requestBody"].get("required"))
        if found:
            operations[f"{route.method} {route.path}"] = found
            refs = needed.setdefault(route.service, set())
            refs |= _refs(raw)
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
