"""The `integration` console script."""

from __future__ import annotations

import sys

from igny8.runtime import main as run_service
from integration.bootstrap import bootstrap
from integration.config import IntegrationSettings


def main(argv: list[str] | None = None) -> int:
    return run_service("integration", bootstrap, IntegrationSettings, argv)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
