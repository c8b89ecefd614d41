"""The `gateway` console script: `serve`, `migrate`, `downgrade` and `dev-token`."""

from __future__ import annotations

import argparse
import sys

from gateway.adapters.jwt_tokens import dev_token
from gateway.bootstrap import bootstrap
from gateway.config import GatewaySettings
from igny8.runtime import Command, Service
from igny8.runtime import main as run_service


def _dev_token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the user id (the token's `sub`)")
    parser.add_argument("--account", help="the account to name in X-Account-Id (printed hint)")
    parser.add_argument("--email")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds")


async def _dev_token(service: Service, args: argparse.Namespace) -> int:
    settings = service.settings
    assert isinstance(settings, GatewaySettings)
    secret = settings.jwt_dev_secret.get_secret_value()
    if not secret:
        print(
            "gateway: GATEWAY_JWT_DEV_SECRET is not set (development tokens are off)",
            file=sys.stderr,
        )
        return 2
    print(
        dev_token(
            secret, settings.jwt_issuer, settings.jwt_audience, args.user, args.ttl, args.email
        )
    )
    if args.account:
        print(f"send it with X-Account-Id: {args.account}", file=sys.stderr)
    await service.engine.dispose()
    return 0


COMMANDS = {
    "dev-token": Command(
        "print a development user token (HS256 with GATEWAY_JWT_DEV_SECRET)",
        _dev_token,
        _dev_token_arguments,
    )
}


def main(argv: list[str] | None = None) -> int:
    return run_service("gateway", bootstrap, GatewaySettings, argv, COMMANDS)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
