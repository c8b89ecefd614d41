"""The one write-or-check loop behind `scripts/asyncapi.py` and `scripts/openapi.py`: a JSON
document per service in one folder, rewritten by `make <kind>` and checked for drift by
`make lint` (`--check`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

SERVICES = ("gateway", "billing", "automation", "integration", "publishing")


Write = Callable[[Path, str], None]
Prepare = Callable[[str, Write, dict[str, dict[str, Any]]], None]
"""Called before a service's document is built, with the writer and the documents built so far:
for files a document depends on (the gateway's copy of the services' models)."""


def main(
    title: str,
    out: Path,
    document: Callable[[str], dict[str, Any]],
    target: str,
    services: tuple[str, ...] = SERVICES,
    prepare: Prepare | None = None,
) -> int:
    parser = argparse.ArgumentParser(description=f"Write the {title} documents into {out}.")
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed documents drift"
    )
    parser.add_argument("services", nargs="*", default=list(services))
    args = parser.parse_args()
    out.mkdir(parents=True, exist_ok=True)
    drift: list[str] = []

    def write(path: Path, text: str) -> None:
        if args.check:
            if not path.exists() or path.read_text() != text:
                drift.append(str(path))
        else:
            path.write_text(text)

    documents: dict[str, dict[str, Any]] = {}
    for service in args.services:
        if prepare is not None:
            prepare(service, write, documents)
        documents[service] = document(service)
        write(
            out / f"{service}.json", json.dumps(documents[service], indent=2, sort_keys=True) + "\n"
        )
    if drift:
        print(f"{title} documents are stale (run `make {target}`):", *drift, sep="\n  ")
        return 1
    return 0
