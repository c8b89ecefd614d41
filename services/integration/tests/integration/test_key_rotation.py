"""`integration rotate-keys` re-encrypts every credential under the new primary key."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from integration_support import RING

from igny8.db import session_factory
from integration.adapters.aesgcm_credentials import AesGcmCredentialCipher, new_key, parse_key_ring
from integration.adapters.sqlalchemy_unit_of_work import IntegrationUnitOfWork
from integration.app.integrations import create_integration, credentials_for_publishing
from integration.app.rotate_keys import rotate_keys
from integration.app.sites import create_site
from integration.domain.errors import KeyNotFound

pytestmark = pytest.mark.integration


async def test_rotation_reencrypts_everything_and_old_keys_work_until_removed(engine):
    old, new = f"old:{new_key()}", f"new:{new_key()}"
    before = AesGcmCredentialCipher(parse_key_ring(old))
    sessions = session_factory(engine)
    made = []
    for _ in range(3):
        account = uuid.uuid4()
        async with IntegrationUnitOfWork(sessions) as uow:
            site = await create_site(account, {"name": "s", "url": "https://s.example"}, uow)
            integration = await create_integration(
                account,
                site.site_id,
                {"platform": "shopify", "base_url": "https://s.example"},
                {"access_token": f"tok-{account}"},
                uow,
                before,
            )
            await uow.commit()
        made.append((account, integration.integration_id))
    both = AesGcmCredentialCipher(parse_key_ring(f"{new},{old},{RING}"))
    async with IntegrationUnitOfWork(sessions) as uow:  # before rotating: old tokens still decrypt
        assert await credentials_for_publishing(*made[0], uow, both) == {
            "access_token": f"tok-{made[0][0]}"
        }
    first = await rotate_keys(lambda: IntegrationUnitOfWork(sessions), both)
    assert first.rotated >= 3 and first.unreadable == []
    again = await rotate_keys(lambda: IntegrationUnitOfWork(sessions), both)
    assert (again.rotated, again.unreadable) == (0, []), "idempotent"
    partial_ring = AesGcmCredentialCipher(parse_key_ring(f"newer:{new_key()}"))
    reported = await rotate_keys(lambda: IntegrationUnitOfWork(sessions), partial_ring)
    assert reported.rotated == 0 and set(i for _, i in made) <= set(reported.unreadable)
    async with engine.connect() as conn:
        kids = set(
            (
                await conn.execute(
                    sa.text(
                        "SELECT DISTINCT credential_key_id FROM integrations "
                        "WHERE credentials IS NOT NULL"
                    )
                )
            ).scalars()
        )
    assert kids == {"new"}
    only_new = AesGcmCredentialCipher(parse_key_ring(new))
    for account, integration_id in made:
        async with IntegrationUnitOfWork(sessions) as uow:
            assert await credentials_for_publishing(account, integration_id, uow, only_new) == {
                "access_token": f"tok-{account}"
            }
    async with IntegrationUnitOfWork(sessions) as uow:
        with pytest.raises(KeyNotFound):
            await credentials_for_publishing(
                *made[0], uow, AesGcmCredentialCipher(parse_key_ring(old))
            )
