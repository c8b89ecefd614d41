"""The `billing` console script: serve, migrate, downgrade, and `audit` for operators."""

from __future__ import annotations

import argparse
import json
import sys

from billing.adapters.sqlalchemy_audit import audit
from billing.bootstrap import bootstrap
from billing.config import BillingSettings
from igny8.runtime import Command, Service
from igny8.runtime import main as run_service


async def audit_ledger(service: Service, args: argparse.Namespace) -> int:
    """Recompute the ledger from its entries; exit 1 and list what is off when not clean."""
    try:
        async with service.engine.connect() as conn:
            violations = await audit(conn)
    finally:
        await service.engine.dispose()
    print(json.dumps({"clean": not violations, "violations": violations}, indent=2))
    return 1 if violations else 0


COMMANDS = {"audit": Command("check every ledger invariant (exit 1 when one fails)", audit_ledger)}


def main(argv: list[str] | None = None) -> int:
    return run_service("billing", bootstrap, BillingSettings, argv, COMMANDS)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
