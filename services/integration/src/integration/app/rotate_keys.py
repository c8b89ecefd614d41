"""Re-encrypting every stored credential under the key ring's primary key."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from integration.ports import CredentialCipher, UnitOfWork


async def rotate_keys(
    unit_of_work: Callable[[], UnitOfWork], cipher: CredentialCipher, batch: int = 200
) -> int:
    """In batches, each its own transaction; safe to re-run after an interruption."""
    rotated = 0
    after: uuid.UUID | None = None
    while True:
        async with unit_of_work() as uow:
            found = await uow.integrations.with_credentials(batch, after)
            if not found:
                return rotated
            for integration in found:
                assert integration.credentials is not None
                if cipher.key_id(integration.credentials) != cipher.primary:
                    plaintext = cipher.decrypt(
                        integration.credentials, integration.account_id, integration.integration_id
                    )
                    integration.credentials = cipher.encrypt(
                        plaintext, integration.account_id, integration.integration_id
                    )
                    await uow.integrations.save(integration)
                    rotated += 1
            after = found[-1].integration_id
            await uow.commit()
