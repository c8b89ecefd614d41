"""The `integration` console script (plus `rotate-keys` and `new-key`)."""

from __future__ import annotations

import argparse
import sys

from igny8.runtime import Command, Service
from igny8.runtime import main as run_service
from integration.adapters.aesgcm_credentials import AesGcmCredentialCipher, new_key, parse_key_ring
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.rotate_keys import rotate_keys
from integration.bootstrap import bootstrap
from integration.config import IntegrationSettings


async def _rotate(service: Service, args: argparse.Namespace) -> int:
    settings = service.settings
    assert isinstance(settings, IntegrationSettings)
    cipher = AesGcmCredentialCipher(parse_key_ring(settings.credential_keys.get_secret_value()))
    result = await rotate_keys(lambda: IntegrationUnitOfWork(service.sessions), cipher)
    print(f"re-encrypted {result.rotated} credentials under key {cipher.primary!r}")
    for integration_id in result.unreadable:
        print(
            f"cannot read the credentials of integration {integration_id}: key missing or damaged"
        )
    await service.engine.dispose()
    return 1 if result.unreadable else 0


async def _new_key(service: Service, args: argparse.Namespace) -> int:
    print(f"{args.key_id}:{new_key()}")
    await service.engine.dispose()
    return 0


def _key_id_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-id", default="k1")


COMMANDS = {
    "rotate-keys": Command("re-encrypt every credential under the primary key", _rotate),
    "new-key": Command("print a fresh key ring entry", _new_key, _key_id_argument),
}


def main(argv: list[str] | None = None) -> int:
    return run_service("integration", bootstrap, IntegrationSettings, argv, COMMANDS)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
