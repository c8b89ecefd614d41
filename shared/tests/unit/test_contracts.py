"""The wire contract: envelope, registry, validation errors that name topic and field."""

from __future__ import annotations

import json
import uuid

import pytest

from igny8.contracts import TOPICS, Envelope, InvalidPayload, UndecodableMessage
from igny8.contracts.credits import CreditsReserved, ReserveCredits, ReserveItem


def reserve(account: uuid.UUID) -> Envelope:
    payload = ReserveCredits(
        reservation_id=uuid.uuid4(), items=[ReserveItem(operation="clustering", quantity=3)]
    )
    return TOPICS.envelope(
        "credit.reserve", payload, source="automation", account_id=account, correlation_id="run-1"
    )


def test_envelope_round_trips_through_bytes() -> None:
    envelope = reserve(uuid.uuid4())
    decoded = TOPICS.decode("credit.reserve", envelope.to_bytes())
    assert decoded == envelope
    payload = TOPICS.payload(decoded)
    assert isinstance(payload, ReserveCredits)
    assert payload.ttl_seconds == 86_400


def test_key_follows_the_registry() -> None:
    account = uuid.uuid4()
    assert TOPICS["credit.reserve"].key_of(reserve(account)) == str(account).encode()


def test_missing_key_is_refused_when_building() -> None:
    with pytest.raises(InvalidPayload) as err:
        reserve(None)  # type: ignore[arg-type]
    assert err.value.field == "account_id"


def test_event_from_a_service_that_does_not_own_it_is_refused() -> None:
    payload = CreditsReserved.model_validate(
        {
            "reservation_id": str(uuid.uuid4()),
            "credits": 1,
            "expires_at": "2030-01-01T00:00:00Z",
            "available_after": 0,
            "prices": {},
        }
    )
    with pytest.raises(InvalidPayload) as err:
        TOPICS.envelope("credit.reserved", payload, source="automation", account_id=uuid.uuid4())
    assert err.value.field == "source"


def test_invalid_payload_names_topic_and_field() -> None:
    envelope = reserve(uuid.uuid4()).model_copy(
        update={"data": {"reservation_id": "x", "items": []}}
    )
    with pytest.raises(InvalidPayload) as err:
        TOPICS.payload(envelope)
    assert err.value.topic == "credit.reserve"
    assert err.value.field == "data.reservation_id"
    assert "credit.reserve: data.reservation_id" in str(err.value)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"{not json", "value"),
        (json.dumps({"type": "credit.reserve"}).encode(), "source"),
        (None, "value"),
    ],
)
def test_undecodable_messages_name_the_problem(raw: bytes | None, field: str) -> None:
    with pytest.raises(UndecodableMessage) as err:
        TOPICS.decode("credit.reserve", raw)
    assert err.value.field in (field, "id", "source")


def test_unknown_schema_version_is_undecodable() -> None:
    envelope = reserve(uuid.uuid4()).model_copy(update={"schema_version": 2})
    with pytest.raises(UndecodableMessage) as err:
        TOPICS.decode("credit.reserve", envelope.to_bytes())
    assert err.value.field == "schema_version"


def test_envelope_on_the_wrong_topic_is_undecodable() -> None:
    with pytest.raises(UndecodableMessage):
        TOPICS.decode("credit.commit", reserve(uuid.uuid4()).to_bytes())


def test_every_credit_topic_is_keyed_by_account_and_owned_by_billing() -> None:
    credit_topics = [spec for spec in TOPICS if spec.name.startswith(("credit.", "balance."))]
    assert len(credit_topics) == 10
    assert {spec.key for spec in credit_topics} == {"account_id"}
    assert {spec.owner for spec in credit_topics} == {"billing"}
