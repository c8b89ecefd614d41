"""Publishing's outcomes feed the integration's health score (issue 10 §4): a permanent publish
failure counts against it and is announced as `integration.health_changed`; a publish that went
through counts for it; a failure after transient errors, a customer's edit (`remote_edited`),
another account's event and a redelivery count for nothing."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from integration_support import as_account

from igny8.contracts import TOPICS
from igny8.contracts.publications import PublicationChanged
from igny8.db import session_factory
from igny8.messaging import outbox
from integration.entrypoints.events import publication_subscription

pytestmark = pytest.mark.integration


async def _static_integration(client, settings, account: uuid.UUID) -> dict:
    site = (
        await client.post(
            "/sites",
            json={"name": "Garden", "url": "https://garden.example"},
            headers=as_account(account),
        )
    ).json()
    (settings.static_root / str(account) / "garden").mkdir(parents=True)
    created = await client.post(
        f"/sites/{site['site_id']}/integrations",
        json={
            "platform": "static",
            "base_url": "https://garden.example",
            "settings": {"folder": "garden"},
        },
        headers=as_account(account),
    )
    assert created.status_code == 201, created.text
    return created.json()


def _event(integration: dict, account: uuid.UUID, topic: str, **data):  # type: ignore[no-untyped-def]
    payload = PublicationChanged(
        publication_id=uuid.uuid4(),
        content_id=uuid.uuid4(),
        content_version=1,
        site_id=uuid.UUID(integration["site_id"]),
        integration_id=uuid.UUID(integration["integration_id"]),
        platform="static",
        **data,
    )
    return TOPICS.envelope(
        topic, payload, source="publishing", account_id=account, site_id=payload.site_id
    )


async def _deliver(engine, envelope) -> None:  # type: ignore[no-untyped-def]
    handler = publication_subscription().handler
    async with session_factory(engine)() as session, session.begin():
        await handler(envelope, TOPICS.payload(envelope), session)


async def _health(client, account, integration) -> dict:  # type: ignore[no-untyped-def]
    answer = await client.get(
        f"/integrations/{integration['integration_id']}/health", headers=as_account(account)
    )
    assert answer.status_code == 200
    return answer.json()


async def test_permanent_publish_failures_lower_the_health_score_and_successes_raise_it(
    client, settings, engine
):
    account = uuid.uuid4()
    integration = await _static_integration(client, settings, account)
    assert (await _health(client, account, integration))["health_score"] == 100

    failed = _event(
        integration,
        account,
        "publication.failed",
        status="failed",
        reason="bad_credentials",
        detail="HTTP 401",
        permanent=True,
    )
    await _deliver(engine, failed)
    health = await _health(client, account, integration)
    assert health["health_score"] < 100
    assert health["recent"][0]["kind"] == "publish" and health["recent"][0]["success"] is False
    assert health["recent"][0]["reason"] == "bad_credentials"
    async with engine.connect() as conn:
        announced = [
            json.loads(r.value)
            for r in await conn.execute(
                sa.select(outbox.c.value).where(outbox.c.topic == "integration.health_changed")
            )
        ]
    mine = [a for a in announced if a["data"]["integration_id"] == integration["integration_id"]]
    assert mine and mine[-1]["data"]["health_score"] == health["health_score"]
    assert mine[-1]["causation_id"] == str(failed.id)

    lowered = health["health_score"]
    for ignored in (
        _event(integration, account, "publication.failed", status="failed",
               reason="unavailable", permanent=False),
        _event(integration, account, "publication.failed", status="failed",
               reason="remote_edited", permanent=True),
        _event(integration, uuid.uuid4(), "publication.failed", status="failed",
               reason="bad_credentials", permanent=True),
    ):  # fmt: skip
        await _deliver(engine, ignored)
    health = await _health(client, account, integration)
    assert health["health_score"] == lowered and len(health["recent"]) == 1

    for _ in range(3):
        await _deliver(
            engine,
            _event(
                integration,
                account,
                "publication.completed",
                status="published",
                url="https://garden.example/a",
            ),
        )
    assert (await _health(client, account, integration))["health_score"] > lowered
