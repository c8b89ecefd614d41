"""Per-site publishing settings: approval, schedule, caps, defaults, linking."""

from __future__ import annotations

import re
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Schedule(_Settings):
    mode: Literal["immediate", "slots", "stagger"] = "immediate"
    days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 5, 6], max_length=7)
    """Slot days, Monday = 0 (slots mode)."""
    times: list[str] = Field(default_factory=lambda: ["09:00"], max_length=48)
    """Slot times `HH:MM` in the site's timezone (slots mode)."""
    stagger_minutes: int = Field(default=60, ge=1, le=10_080)

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if not days or any(d < 0 or d > 6 for d in days):
            raise ValueError("days are 0 (Monday) … 6 (Sunday), at least one")
        return sorted(set(days))

    @field_validator("times")
    @classmethod
    def _times(cls, times: list[str]) -> list[str]:
        if not times or any(not HHMM.match(t) for t in times):
            raise ValueError("times are HH:MM, at least one")
        return sorted(set(times))


class Linking(_Settings):
    enabled: bool = True
    max_per_1000_words: float = Field(default=4.0, ge=0, le=10)
    max_links: int = Field(default=8, ge=0, le=50)
    min_similarity: float = Field(default=0.08, ge=0, le=1)
    inbound: Literal["off", "suggest", "auto"] = "suggest"
    """Links *to* a new article from earlier ones: proposed, applied automatically, or neither."""


class SiteSettings(_Settings):
    approval: Literal["auto", "manual", "rule"] | None = None
    """None follows automation's `auto_publish` flag (true → auto, false → manual)."""
    score_floor: int = Field(default=0, ge=0, le=100)
    schedule: Schedule = Field(default_factory=Schedule)
    daily_cap: int | None = Field(default=None, ge=1, le=10_000)
    """Publications released per destination per local day."""
    queue_limit: int | None = Field(default=None, ge=1, le=100_000)
    """Scheduled publications per site; beyond it new ones wait (`queue_full`)."""
    default_status: Literal["draft", "publish", "future"] = "publish"
    default_destination: uuid.UUID | None = None
    """One integration every article goes to; None: every active integration of the site."""
    target_words: int = Field(default=1200, ge=100, le=20_000)
    linking: Linking = Field(default_factory=Linking)


RULE_NAME = "score_floor_and_no_failed_checks"


def approval_mode(settings: SiteSettings, auto_publish: bool) -> Literal["auto", "manual", "rule"]:
    if settings.approval is not None:
        return settings.approval
    return "auto" if auto_publish else "manual"


def approve(
    settings: SiteSettings, auto_publish: bool, score: int, failed_checks: list[str]
) -> tuple[bool, str, str]:
    """(approved, actor, why) for an article arriving with this score and these failed checks."""
    mode = approval_mode(settings, auto_publish)
    floor = settings.score_floor
    if mode == "manual":
        return False, "system", "manual approval: waits for a person"
    if mode == "auto":
        if score >= floor:
            return True, "rule:auto", f"auto: score {score} ≥ floor {floor}"
        return False, "rule:auto", _below(score, floor, failed_checks)
    if score >= floor and not failed_checks:
        return True, f"rule:{RULE_NAME}", f"rule: score {score} ≥ {floor}, no failed checks"
    if score < floor:
        return False, f"rule:{RULE_NAME}", _below(score, floor, failed_checks)
    return False, f"rule:{RULE_NAME}", "rule: failed checks: " + ", ".join(failed_checks)


def _below(score: int, floor: int, failed: list[str]) -> str:
    listed = ", ".join(failed) if failed else "none"
    return f"score {score} below floor {floor}; failed checks: {listed}"
