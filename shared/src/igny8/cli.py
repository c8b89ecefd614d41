"""The `igny8` command: platform tools for scripts and operators."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from igny8 import dlq
from igny8.service_keys import (
    MAX_TOKEN_TTL_S,
    SERVICES,
    InvalidServiceToken,
    development_keys,
    mint_service_token,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="igny8")
    sub = parser.add_subparsers(dest="command", required=True)
    token = sub.add_parser(
        "service-token",
        help="print a short-lived service JWT, signed with the --from service's private key",
    )
    token.add_argument("--from", dest="caller", required=True, help="calling service (sub)")
    token.add_argument("--to", dest="audience", required=True, help="target service (aud)")
    token.add_argument("--ttl", type=int, default=120, help=f"seconds, at most {MAX_TOKEN_TTL_S}")
    token.add_argument(
        "--key-file",
        type=Path,
        help="the caller's private key (default: $<FROM>_SERVICE_PRIVATE_KEY, as in .env.infra)",
    )
    keys = sub.add_parser(
        "service-keys", help="print a fresh key pair per service as environment variables"
    )
    keys.add_argument("--services", default=",".join(SERVICES), help="comma-separated names")
    dlq.register(sub)
    args = parser.parse_args(argv)
    if args.command == "dlq":
        return asyncio.run(dlq.run(args))
    if args.command == "service-keys":
        for name, value in development_keys(args.services.split(",")).items():
            print(f"{name}={value}")
        return 0
    try:
        key = args.key_file.read_text().strip() if args.key_file else None
        print(mint_service_token(key, args.caller, args.audience, args.ttl))
    except (InvalidServiceToken, OSError) as exc:
        print(f"igny8: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
