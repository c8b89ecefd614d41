"""Payloads of the credit reservation saga (DESIGN §4)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Operation(StrEnum):
    CLUSTERING = "clustering"
    IDEA_GENERATION = "idea_generation"
    CONTENT_GENERATION = "content_generation"
    IMAGE_PROMPT_EXTRACTION = "image_prompt_extraction"
    IMAGE_GENERATION = "image_generation"
    LINKING = "linking"
    OPTIMIZATION = "optimization"


class PricingUnit(StrEnum):
    PER_REQUEST = "per_request"
    PER_100_WORDS = "per_100_words"
    PER_200_WORDS = "per_200_words"
    PER_ITEM = "per_item"
    PER_IMAGE = "per_image"


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReserveItem(_Payload):
    # A plain string, not Operation: an unknown operation is billing's typed rejection, not a
    # contract violation.
    operation: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=0)


class ReserveCredits(_Payload):
    reservation_id: uuid.UUID
    items: list[ReserveItem] = Field(min_length=1, max_length=100)
    ttl_seconds: int = Field(default=86_400, ge=1, le=604_800)
    run_id: uuid.UUID | None = None


class Price(_Payload):
    unit: PricingUnit
    credits_per_unit: int = Field(ge=0)
    minimum_credits: int = Field(ge=0)


class CreditsReserved(_Payload):
    reservation_id: uuid.UUID
    credits: int = Field(ge=0)
    expires_at: AwareDatetime
    available_after: int = Field(ge=0)
    prices: dict[str, Price]


RejectionReason = Literal[
    # released: the reservation's release arrived first (they travel on different topics)
    "insufficient_credits",
    "unknown_operation",
    "unknown_account",
    "invalid",
    "released",
]


class CreditsRejected(_Payload):
    reservation_id: uuid.UUID | None
    reason: RejectionReason
    required: int | None = None
    available: int | None = None
    detail: str = ""


class Usage(_Payload):
    model: str = Field(max_length=200)
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    provider_cost_usd: Decimal = Field(ge=0, max_digits=18, decimal_places=8)


class UsageRef(_Payload):
    run_id: uuid.UUID | None = None
    stage: int | None = Field(default=None, ge=1, le=6)
    item_id: str | None = Field(default=None, max_length=200)


class CommitCredits(_Payload):
    reservation_id: uuid.UUID
    commit_id: uuid.UUID
    operation: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=0)
    usage: Usage | None = None
    ref: UsageRef | None = None


class CreditsCommitted(_Payload):
    reservation_id: uuid.UUID
    commit_id: uuid.UUID
    credits: int = Field(ge=0)
    remaining_hold: int = Field(ge=0)
    balance_after: int = Field(ge=0)


class ReleaseCredits(_Payload):
    reservation_id: uuid.UUID


class CreditsReleased(_Payload):
    reservation_id: uuid.UUID
    released_credits: int = Field(ge=0)
    reason: Literal["released", "expired"]


CommandFailureReason = Literal[
    "conflict", "unknown_reservation", "hold_exceeded", "reservation_ended", "invalid"
]


class CreditCommandFailed(_Payload):
    command_type: str
    reservation_id: uuid.UUID | None
    commit_id: uuid.UUID | None = None
    reason: CommandFailureReason
    detail: str = ""


class GrantKind(StrEnum):
    PAID = "paid"
    PLAN = "plan"
    PROMO = "promo"


class CreditsGranted(_Payload):
    grant_id: uuid.UUID
    credits: int = Field(gt=0)
    kind: GrantKind
    expires_at: AwareDatetime | None = None


class BalanceLow(_Payload):
    available: int = Field(ge=0)
    threshold: int = Field(ge=0)
