"""Request and response models of billing's HTTP API: the typed contract in its OpenAPI document.

Numeric bounds match the columns behind them (BIGINT credits and sequence numbers), so an
out-of-range number is a 422 naming the field, never a database error."""

import uuid
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from billing.domain.model import GrantKind
from billing.domain.pricing import OPERATIONS, Unit
from igny8.webapi import INT64_MAX

Credits = int
MAX_THRESHOLD = INT64_MAX
"""low_balance_threshold is a BIGINT column."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenAccount(_Body):
    account_id: uuid.UUID
    low_balance_threshold: int | None = Field(
        default=None,
        ge=0,
        le=MAX_THRESHOLD,
        description="Credits below which `balance.low` fires; null for the platform default.",
    )


class AccountSettings(_Body):
    """The whole settings object (PUT replaces it: an omitted field returns to its default)."""

    low_balance_threshold: int | None = Field(
        default=None,
        ge=0,
        le=MAX_THRESHOLD,
        description="Credits below which `balance.low` fires; null for the platform default.",
    )


class AccountSettingsPatch(_Body):
    """Only the fields given change (PATCH merges); null resets a field to its default."""

    low_balance_threshold: int | None = Field(default=None, ge=0, le=MAX_THRESHOLD)


class GrantBody(_Body):
    credits: int = Field(gt=0, le=100_000_000)
    kind: GrantKind
    expires_at: AwareDatetime | None = Field(
        default=None, description="Required for promo grants; paid credits never expire."
    )


class QuoteItem(_Body):
    operation: str = Field(max_length=100)
    quantity: int = Field(
        ge=0, le=100_000_000, description="Words for word-priced operations, counts otherwise."
    )


class QuoteBody(_Body):
    items: list[QuoteItem] = Field(min_length=1, max_length=100)


class PriceBody(_Body):
    operation: Literal[OPERATIONS]  # type: ignore[valid-type]
    unit: Unit
    credits_per_unit: int = Field(ge=0, le=1_000_000)
    minimum_credits: int = Field(ge=0, le=1_000_000)
    display_name: str = Field(default="", max_length=200)


class CostsBody(_Body):
    prices: list[PriceBody] = Field(min_length=1, max_length=100)
    effective_at: AwareDatetime | None = None


# ---------------------------------------------------------------- answers


class AccountOpened(BaseModel):
    account_id: uuid.UUID
    created: bool = Field(description="False when the account already existed (idempotent).")


class KindBalance(BaseModel):
    available: Credits
    held: Credits


class Expiry(BaseModel):
    grant_id: uuid.UUID
    kind: GrantKind
    available: Credits
    held: Credits
    expires_at: AwareDatetime


class Balance(BaseModel):
    account_id: uuid.UUID
    available: Credits
    held: Credits
    by_kind: dict[str, KindBalance] = Field(description="Keyed by grant kind: paid, plan, promo.")
    next_expiries: list[Expiry] = Field(description="Up to five grants that expire soonest.")
    low_balance_threshold: Credits | None


class Settings(BaseModel):
    account_id: uuid.UUID
    low_balance_threshold: Credits | None


class GrantView(BaseModel):
    grant_id: uuid.UUID
    account_id: uuid.UUID
    kind: GrantKind
    credits: Credits
    expires_at: AwareDatetime | None


class Entry(BaseModel):
    book: str
    amount: Credits
    balance_after: Credits | None
    grant_id: uuid.UUID | None


class Transaction(BaseModel):
    transaction_id: uuid.UUID
    seq: int
    kind: str
    reference: str
    created_at: AwareDatetime
    entries: list[Entry]


class TransactionPage(BaseModel):
    items: list[Transaction]
    has_more: bool
    next_cursor: int | None = Field(description="Pass as `cursor` for the next (older) page.")


class UsageRow(BaseModel):
    key: str | None
    commits: int
    quantity: int
    credits: Credits
    input_tokens: int
    output_tokens: int
    provider_cost_usd: str | None = Field(
        default=None,
        description="What the AI provider charged the platform (USD, a plain decimal string): "
        "internal, so answered to platform admins only and absent for customers.",
    )


class Usage(BaseModel):
    group_by: Literal["operation", "model", "day", "run"]
    rows: list[UsageRow]


class PriceView(BaseModel):
    operation: str
    unit: Unit
    credits_per_unit: int
    minimum_credits: int
    display_name: str
    effective_at: AwareDatetime | None


class Costs(BaseModel):
    prices: list[PriceView]


class CostsChanged(BaseModel):
    effective_at: AwareDatetime
    prices: list[PriceView]


class QuoteLine(BaseModel):
    operation: str
    quantity: int
    credits: Credits
    price: PriceView


class Quote(BaseModel):
    credits: Credits
    lines: list[QuoteLine]
