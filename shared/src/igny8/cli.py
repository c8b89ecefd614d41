"""The `igny8` command: platform tools for scripts and operators."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from igny8 import dlq
from igny8.auth import MAX_TOKEN_TTL_S, InvalidServiceToken, mint_service_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="igny8")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser("service-token", help="print a short-lived service JWT")
    token.add_argument("--from", dest="caller", required=True, help="calling service (sub)")
    token.add_argument("--to", dest="audience", required=True, help="target service (aud)")
    token.add_argument("--ttl", type=int, default=120, help=f"seconds, at most {MAX_TOKEN_TTL_S}")
    dlq.register(sub)
    args = parser.parse_args(argv)
    if args.command == "dlq":
        return asyncio.run(dlq.run(args))
    if args.command == "service-token":
        try:
            print(
                mint_service_token(
                    os.environ.get("IGNY8_SERVICE_KEY", ""), args.caller, args.audience, args.ttl
                )
            )
        except InvalidServiceToken as exc:
            print(f"igny8: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
