"""The `gateway` console script."""

from __future__ import annotations

import sys

from gateway.bootstrap import bootstrap
from gateway.config import GatewaySettings
from igny8.runtime import main as run_service


def main(argv: list[str] | None = None) -> int:
    return run_service("gateway", bootstrap, GatewaySettings, argv)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
