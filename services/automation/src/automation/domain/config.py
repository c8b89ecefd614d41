"""Per-site automation settings, validated."""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

Stage = Annotated[int, Field(ge=1, le=6)]
BatchSize = Annotated[int, Field(ge=1, le=1000)]
ItemCap = Annotated[int, Field(ge=0, le=1_000_000)]
MAX_CREDITS = 9_223_372_036_854_775_807
"""Credits are BIGINT in billing."""


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frequency: Literal["none", "daily", "weekly", "monthly"] = "none"
    time: str = Field(default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = Field(default="UTC", max_length=64)
    weekday: int = Field(default=0, ge=0, le=6)
    day_of_month: int = Field(default=1, ge=1, le=28)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """Refused here, not discovered by the scheduler (which would skip the site forever)."""
        try:
            ZoneInfo(value)
        except Exception:  # ZoneInfoNotFoundError, or ValueError for a path-like key
            raise ValueError(f"unknown timezone {value[:64]!r}") from None
        return value


class AutomationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_sizes: dict[Stage, BatchSize] = Field(
        default_factory=lambda: {1: 50, 2: 5, 3: 20, 4: 1, 5: 1, 6: 4}
    )
    """Items per AI call or per unit of work, by stage."""
    delay_within_stage_s: float = Field(default=0.0, ge=0, le=600)
    delay_between_stages_s: float = Field(default=0.0, ge=0, le=3600)
    max_items_per_stage: dict[Stage, ItemCap] = Field(default_factory=dict)
    max_credits: int | None = Field(default=None, ge=1, le=MAX_CREDITS)
    estimate_buffer: float = Field(default=0.2, ge=0, le=2)
    ideas_per_cluster: int = Field(default=2, ge=1, le=10)
    target_word_count: int = Field(default=1200, ge=200, le=6000)
    word_limit_factor: float = Field(default=1.3, ge=1, le=3)
    """The most words an article may come back with, as a multiple of the target (cost ceiling)."""
    inline_images: int = Field(default=2, ge=0, le=8)
    image_size: str = Field(default="1024x1024", pattern=r"^\d{2,4}x\d{2,4}$")
    auto_publish: bool = False
    schedule: Schedule = Field(default_factory=Schedule)

    @property
    def images_per_article(self) -> int:
        return 1 + self.inline_images

    def batch(self, stage: int) -> int:
        return max(1, self.batch_sizes.get(stage, 1))
