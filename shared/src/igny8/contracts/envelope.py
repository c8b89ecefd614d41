"""The envelope every Kafka value carries (DESIGN §3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    """CloudEvents-like wrapper; `type` equals the topic name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    schema_version: int = Field(default=1, ge=1)
    account_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return self.__pydantic_serializer__.to_json(self)  # bytes, no str round trip
