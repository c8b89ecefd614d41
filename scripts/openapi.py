"""Generate every service's OpenAPI document into docs/openapi/ (or --check drift, for `make lint`).

Each service is composed exactly as it serves (its bootstrap and `igny8.runtime.create_app`) but
never started: building the app connects to nothing, so this needs no running infrastructure.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed documents drift"
    )
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    drift = []

    def write(path: Path, text: str) -> None:
        if args.check:
            if not path.exists() or path.read_text() != text:
                drift.append(str(path))
        else:
            path.write_text(text)

    documents: dict[str, dict[str, Any]] = {}
    for service in args.services:
        if service == "gateway":
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from gateway_upstream_schemas import render

            upstream = {
                name: documents.get(name) or json.loads((OUT / f"{name}.json").read_text())
                for name in SERVICES
                if name != "gateway"
            }
            write(UPSTREAM, render(upstream))
        documents[service] = document(service)
        write(
            OUT / f"{service}.json", json.dumps(documents[service], indent=2, sort_keys=True) + "\n"
        )
    if drift:
        print("OpenAPI documents are stale (run `make openapi`):", *drift, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
