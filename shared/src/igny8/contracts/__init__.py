"""The wire contract: envelope, topic registry, one pydantic model per message."""

from igny8.contracts.envelope import Envelope
from igny8.contracts.errors import ContractError, InvalidPayload, UndecodableMessage
from igny8.contracts.registry import MAX_MESSAGE_BYTES, TOPICS, TopicRegistry, TopicSpec

__all__ = [
    "MAX_MESSAGE_BYTES",
    "TOPICS",
    "ContractError",
    "Envelope",
    "InvalidPayload",
    "TopicRegistry",
    "TopicSpec",
    "UndecodableMessage",
]
