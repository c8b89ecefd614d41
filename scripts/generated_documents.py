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


def main(title: str, out: Path, document: Callable[[str], dict[str, Any]], target: str) -> int:
    parser = argparse.ArgumentParser(description=f"Write the {title} documents into {out}.")
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed documents drift"
    )
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    args = parser.parse_args()
    out.mkdir(parents=True, exist_ok=True)
    drift = []
    for service in args.services:
        path = out / f"{service}.json"
        text = json.dumps(document(service), indent=2, sort_keys=True) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                drift.append(str(path))
        else:
            path.write_text(text)
    if drift:
        print(f"{title} documents are stale (run `make {target}`):", *drift, sep="\n  ")
        return 1
    return 0
