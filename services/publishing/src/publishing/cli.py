"""The `publishing` console script."""

from __future__ import annotations

import sys

from igny8.runtime import main as run_service
from publishing.bootstrap import bootstrap
from publishing.config import PublishingSettings


def main(argv: list[str] | None = None) -> int:
    return run_service("publishing", bootstrap, PublishingSettings, argv)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
