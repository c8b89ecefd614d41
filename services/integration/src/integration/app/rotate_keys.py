"""Re-encrypting every stored credential under the key ring's primary key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from integration.domain.errors import IntegrationError
from integration.ports import CredentialCipher, UnitOfWork


@dataclass
class Rotation:
    rotated: int = 0
    unreadable: list[uuid.UUID] = field(default_factory=list)
    """Integrations whose key is no longer in the ring (or whose token is damaged)."""


async def rotate_keys(
    unit_of_work: Callable[[], UnitOfWork], cipher: CredentialCipher, batch: int = 200
) -> Rotation:
    """In batches, each its own transaction; safe to re-run after an interruption. A credential
    that cannot be read is reported, not dropped, and does not stop the others."""
    result = Rotation()
    after: uuid.UUID | None = None
    while True:
        async with unit_of_work() as uow:
            found = await uow.integrations.with_credentials(batch, after)
            if not found:
                return result
            for integration in found:
                assert integration.credentials is not None
                if cipher.key_id(integration.credentials) == cipher.primary:
                    continue
                try:
                    plaintext = cipher.decrypt(
                        integration.credentials, integration.account_id, integration.integration_id
                    )
                except IntegrationError:
                    result.unreadable.append(integration.integration_id)
                    continue
                integration.credentials = cipher.encrypt(
                    plaintext, integration.account_id, integration.integration_id
                )
                await uow.integrations.save(integration)
                result.rotated += 1
            after = found[-1].integration_id
            await uow.commit()
