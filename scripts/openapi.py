"""Generate every service's OpenAPI document into docs/openapi/ (or --check drift, for `make lint`).

Each service is composed exactly as it serves (its bootstrap and `igny8.runtime.create_app`) but
never started: building the app connects to nothing, so this needs no running infrastructure.
"""

from __future__ import annotations

import base64
import importlib
import os
import sys
from pathlib import Path
from typing import Any

from generated_documents import main

OUT = Path(__file__).resolve().parents[1] / "docs" / "openapi"

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


if __name__ == "__main__":
    sys.exit(main("OpenAPI", OUT, document, "openapi"))
