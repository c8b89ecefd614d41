"""When a scheduled publication goes out: immediate, time slots or stagger, in the site's timezone,
and where a daily cap pushes it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from publishing.domain.settings import Schedule


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def next_time(schedule: Schedule, now: datetime, last: datetime | None, tz: str) -> datetime:
    """The release time of the next publication of a destination whose latest scheduled one is
    `last` (None: nothing queued)."""
    if schedule.mode == "immediate":
        return now
    if schedule.mode == "stagger":
        if last is None:
            return now
        return max(now, last + timedelta(minutes=schedule.stagger_minutes))
    after = max(now, last + timedelta(seconds=1)) if last is not None else now
    return next_slot(schedule, after, tz)


def next_slot(schedule: Schedule, after: datetime, tz: str) -> datetime:
    """The first slot at or after `after`."""
    local_zone = zone(tz)
    local = after.astimezone(local_zone)
    for day in range(8):
        date = (local + timedelta(days=day)).date()
        if date.weekday() not in schedule.days:
            continue
        for hhmm in schedule.times:
            hour, minute = (int(x) for x in hhmm.split(":"))
            slot = datetime.combine(date, time(hour, minute), local_zone)
            if slot >= local:
                return slot.astimezone(after.tzinfo)
    raise AssertionError("a week always holds a slot")  # days is never empty


def local_day_bounds(when: datetime, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of `when`'s local day."""
    local_zone = zone(tz)
    date = when.astimezone(local_zone).date()
    start = datetime.combine(date, time(0), local_zone)
    end = datetime.combine(date + timedelta(days=1), time(0), local_zone)
    return start.astimezone(when.tzinfo), end.astimezone(when.tzinfo)


def after_daily_cap(schedule: Schedule, when: datetime, tz: str) -> datetime:
    """The cap of `when`'s day is reached: the first release time on the next local day."""
    _, next_day = local_day_bounds(when, tz)
    if schedule.mode == "slots":
        return next_slot(schedule, next_day, tz)
    return next_day
