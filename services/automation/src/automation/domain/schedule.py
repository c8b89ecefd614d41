"""When a site's schedule last came due (in the site's timezone)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from automation.domain.config import Schedule
from automation.domain.errors import InvalidInput


def latest_occurrence(schedule: Schedule, now: datetime) -> datetime | None:
    """The most recent scheduled moment at or before `now` (aware, UTC), or None when off."""
    if schedule.frequency == "none":
        return None
    try:
        zone = ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown timezone {schedule.timezone!r}") from None
    local = now.astimezone(zone)
    hour, minute = (int(part) for part in schedule.time.split(":"))
    at = time(hour, minute)
    if schedule.frequency == "daily":
        candidate = datetime.combine(local.date(), at, zone)
        if candidate > local:
            candidate -= timedelta(days=1)
    elif schedule.frequency == "weekly":
        back = (local.weekday() - schedule.weekday) % 7
        candidate = datetime.combine(local.date() - timedelta(days=back), at, zone)
        if candidate > local:
            candidate -= timedelta(days=7)
    else:
        candidate = datetime.combine(local.date().replace(day=schedule.day_of_month), at, zone)
        if candidate > local:
            previous = local.date().replace(day=1) - timedelta(days=1)
            candidate = datetime.combine(previous.replace(day=schedule.day_of_month), at, zone)
    return candidate.astimezone(ZoneInfo("UTC"))
