"""Typed failures of the wire contract."""

from __future__ import annotations


class ContractError(ValueError):
    """A message does not fit its contract. Names the topic and the offending field."""

    def __init__(self, topic: str, field: str, message: str) -> None:
        self.topic = topic
        self.field = field
        self.message = message
        super().__init__(f"{topic}: {field}: {message}")


class UndecodableMessage(ContractError):
    """Not JSON, not an envelope, or a schema version this code does not know."""


class InvalidPayload(ContractError):
    """A decodable envelope whose `data` does not validate against the topic's model."""
