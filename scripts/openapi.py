"""Generate every service's OpenAPI document into docs/openapi/ (or --check drift, for `make lint`).

Each service is composed exactly as it serves (its bootstrap and `igny8.runtime.create_app`) but
never started: building the app connects to nothing, so this needs no running infrastructure.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from generated_documents import Write, main

OUT = Path(__file__).resolve().parents[1] / "docs" / "openapi"
# The gateway last: its document takes the services' models (`gateway_upstream_schemas.py`).
SERVICES = ("billing", "automation", "integration", "publishing", "gateway")
UPSTREAM = (
    Path(__file__).resolve().parents[1]
    / "services/gateway/src/gateway/entrypoints/upstream_schemas.json"
)

# Settings a service refuses to build without; their values never reach the document.
PLACEHOLDERS = {
    "INTEGRATION_CREDENTIAL_KEYS": "docs:"
    + base64.urlsafe_b64encode(bytes(32)).decode().rstrip("="),
}


def document(service: str) -> dict[str, Any]:
    from igny8.runtime import create_app

    for name, value in PLACEHOLDERS.items():
        os.environ.setdefault(name, value)
    os.environ[f"{service.upper()}_ROLE"] = "all"  # the API routes are part of the document
    bootstrap = importlib.import_module(f"{service}.bootstrap").bootstrap
    return create_app(bootstrap()).openapi()


def upstream_models(service: str, write: Write, documents: dict[str, dict[str, Any]]) -> None:
    """Before the gateway: its copy of the services' models, from the documents just built (or
    the committed ones when only the gateway is asked for)."""
    if service != "gateway":
        return
    from gateway_upstream_schemas import render

    upstream = {
        name: documents.get(name) or json.loads((OUT / f"{name}.json").read_text())
        for name in SERVICES
        if name != "gateway"
    }
    write(UPSTREAM, render(upstream))


if __name__ == "__main__":
    sys.exit(main("OpenAPI", OUT, document, "openapi", SERVICES, upstream_models))
