"""Schedules in the site's timezone, daily caps, approval modes, the publication state machine."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from publishing.domain.errors import InvalidTransition
from publishing.domain.model import Publication, Status, publication_slug
from publishing.domain.schedule import after_daily_cap, local_day_bounds, next_time
from publishing.domain.settings import Schedule, SiteSettings, approve

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)  # a Thursday


def test_immediate_is_now() -> None:
    assert next_time(Schedule(), NOW, NOW + timedelta(hours=5), "UTC") == NOW


def test_stagger_spaces_publications_by_n_minutes() -> None:
    s = Schedule(mode="stagger", stagger_minutes=30)
    assert next_time(s, NOW, None, "UTC") == NOW
    assert next_time(s, NOW, NOW, "UTC") == NOW + timedelta(minutes=30)
    assert next_time(s, NOW, NOW - timedelta(hours=2), "UTC") == NOW


def test_slots_are_in_the_site_timezone() -> None:
    s = Schedule(mode="slots", days=[0, 2, 4], times=["09:00", "15:00"])  # Mon, Wed, Fri
    # 10:30 UTC Thursday = 11:30 in Berlin on Thursday: next slot is Friday 09:00 Berlin
    first = next_time(s, NOW, None, "Europe/Berlin")
    assert first == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    second = next_time(s, NOW, first, "Europe/Berlin")
    assert second == datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    third = next_time(s, NOW, second, "Europe/Berlin")
    assert third == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday


def test_daily_cap_moves_to_the_next_local_day() -> None:
    start, end = local_day_bounds(NOW, "America/New_York")
    assert start == datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
    assert after_daily_cap(Schedule(), NOW, "America/New_York") == end
    slots = Schedule(mode="slots", days=[0], times=["08:00"])
    assert after_daily_cap(slots, NOW, "UTC") == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def test_invalid_schedules_are_refused() -> None:
    with pytest.raises(ValueError):
        Schedule(mode="slots", times=["25:00"])
    with pytest.raises(ValueError):
        Schedule(mode="slots", days=[])


@pytest.mark.parametrize(
    ("approval", "auto_publish", "score", "failed", "expected"),
    [
        (None, True, 10, ["x"], True),  # the flag selects auto, floor 0
        (None, False, 99, [], False),  # the flag off selects manual
        ("auto", False, 70, ["x"], True),
        ("auto", True, 69, [], False),  # below the floor
        ("manual", True, 100, [], False),
        ("rule", True, 90, [], True),
        ("rule", True, 90, ["single_h1"], False),
        ("rule", True, 60, [], False),
    ],
)
def test_approval_modes(approval, auto_publish, score, failed, expected) -> None:
    floor = 0 if approval is None else 70
    settings = SiteSettings(approval=approval, score_floor=floor)
    approved, _, why = approve(settings, auto_publish, score, failed)
    assert approved is expected
    if not approved and approval in ("auto", "rule") and score < floor:
        assert "below floor" in why and (failed[0] in why if failed else "none" in why)


def _publication() -> Publication:
    return Publication.create(
        account_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        content_id=uuid.uuid4(),
        integration_id=uuid.uuid4(),
        platform="static",
        slug="s",
        content_version=1,
        score=50,
        hold_reason="manual approval",
        actor="system",
        now=NOW,
    )


def test_every_transition_is_recorded_and_illegal_ones_refused() -> None:
    p = _publication()
    p.schedule(NOW, "user:42", "approved", NOW)
    p.move(Status.PUBLISHING, "scheduler", "due", NOW)
    p.move(Status.PUBLISHED, "worker", "published version 1", NOW)
    assert [(t.from_status, t.to_status, t.actor) for t in p.transitions] == [
        (None, Status.PENDING_APPROVAL, "system"),
        (Status.PENDING_APPROVAL, Status.SCHEDULED, "user:42"),
        (Status.SCHEDULED, Status.PUBLISHING, "scheduler"),
        (Status.PUBLISHING, Status.PUBLISHED, "worker"),
    ]
    with pytest.raises(InvalidTransition):
        p.move(Status.CANCELLED, "user:42", "too late", NOW)


def test_outcome_is_unknown_after_a_create_started_without_an_id() -> None:
    p = _publication()
    assert not p.outcome_unknown
    p.create_started_at = NOW
    assert p.outcome_unknown
    p.remote_id = "12"
    assert not p.outcome_unknown


def test_publication_slug_is_deterministic_and_safe() -> None:
    assert publication_slug("Compost Bins: A Guide!") == "compost-bins-a-guide"
    assert publication_slug("../../etc") == "etc"
    assert publication_slug("") == "article"
