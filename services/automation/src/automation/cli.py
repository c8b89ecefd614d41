"""The `automation` console script."""

from __future__ import annotations

import sys

from automation.bootstrap import bootstrap
from automation.config import AutomationSettings
from igny8.runtime import main as run_service


def main(argv: list[str] | None = None) -> int:
    return run_service("automation", bootstrap, AutomationSettings, argv)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
