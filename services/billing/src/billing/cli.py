"""The `billing` console script."""

from __future__ import annotations

import sys

from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from igny8.runtime import main as run_service


def main(argv: list[str] | None = None) -> int:
    return run_service("billing", bootstrap, BillingSettings, argv)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
