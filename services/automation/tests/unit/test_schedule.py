"""Schedules come due in the site's timezone; weekly and monthly ones on their day."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from automation.domain.config import Schedule
from automation.domain.errors import InvalidInput
from automation.domain.schedule import latest_occurrence


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_daily_in_the_sites_timezone() -> None:
    schedule = Schedule(frequency="daily", time="06:00", timezone="America/New_York")
    # 10:30 UTC is 05:30 in New York (EST): today's 06:00 has not come yet, so yesterday's counts.
    assert latest_occurrence(schedule, at("2026-11-26T10:30:00")) == at("2026-11-25T11:00:00")
    assert latest_occurrence(schedule, at("2026-11-26T11:00:00")) == at("2026-11-26T11:00:00")


def test_weekly_and_monthly() -> None:
    weekly = Schedule(frequency="weekly", time="09:15", weekday=0)  # Mondays
    assert latest_occurrence(weekly, at("2026-11-26T12:00:00")) == at("2026-11-23T09:15:00")
    monthly = Schedule(frequency="monthly", time="00:30", day_of_month=28)
    assert latest_occurrence(monthly, at("2026-11-26T12:00:00")) == at("2026-10-28T00:30:00")
    assert latest_occurrence(monthly, at("2026-11-28T00:30:00")) == at("2026-11-28T00:30:00")


def test_off_and_bad_timezones() -> None:
    assert latest_occurrence(Schedule(), at("2026-11-26T12:00:00")) is None
    with pytest.raises(ValidationError, match="Mars/Olympus"):  # refused when saved (issue 12)
        Schedule(frequency="daily", timezone="Mars/Olympus")
    # one saved before that check still never reaches the scheduler as a crash
    legacy = Schedule.model_construct(frequency="daily", timezone="Mars/Olympus")
    with pytest.raises(InvalidInput):
        latest_occurrence(legacy, at("2026-11-26T12:00:00"))
