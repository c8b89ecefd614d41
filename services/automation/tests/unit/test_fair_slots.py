"""The fair order of queued runs (domain.scheduling), with counts instead of a clock."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from automation.domain.scheduling import (
    Caps,
    QueuedRun,
    Waiting,
    announcements,
    choose,
    fair_order,
    positions,
    still_yields,
    yields,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
AGENCY, SMALL, THIRD = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def queue(account: uuid.UUID, n: int, after_s: float = 0.0) -> list[Waiting]:
    return [
        Waiting(uuid.uuid4(), account, T0 + timedelta(seconds=after_s + i * 0.01)) for i in range(n)
    ]


def test_a_small_accounts_runs_take_the_next_free_slots_before_an_agencys_backlog() -> None:
    agency, small = queue(AGENCY, 20), queue(SMALL, 2, after_s=5)
    # the agency already drives 4 runs; two slots free up
    picked = choose(agency + small, {AGENCY: 4}, free=2)
    assert [w.run_id for w in picked] == [w.run_id for w in small]


def test_slots_freeing_one_by_one_go_to_the_small_account_until_it_catches_up() -> None:
    agency, small = queue(AGENCY, 20), queue(SMALL, 2, after_s=5)
    in_progress = {AGENCY: 4}
    waiting = agency + small
    taken = []
    for _ in range(4):  # the agency's runs end one at a time; each frees one slot
        in_progress[AGENCY] -= 1
        (run,) = choose(waiting, in_progress, free=1)
        taken.append(run.account_id)
        in_progress[run.account_id] = in_progress.get(run.account_id, 0) + 1
        waiting.remove(run)
    assert taken[:2] == [SMALL, SMALL], "the small account's two runs start within the next slots"
    assert taken[2:] == [AGENCY, AGENCY]


def test_ties_go_to_the_oldest_waiting_run() -> None:
    late, early = queue(SMALL, 1, after_s=10), queue(THIRD, 1, after_s=1)
    assert choose(late + early, {}, free=1) == early


def test_with_nothing_in_progress_accounts_alternate() -> None:
    order, blocked = fair_order(queue(AGENCY, 3) + queue(SMALL, 3, after_s=1), {})
    assert [w.account_id for w in order] == [AGENCY, SMALL] * 3
    assert blocked == []


def test_an_account_at_its_cap_waits_even_with_free_slots() -> None:
    agency, small = queue(AGENCY, 5), queue(SMALL, 1, after_s=1)
    caps = Caps(per_account=2)
    picked = choose(agency + small, {AGENCY: 1}, free=4, caps=caps)
    assert [w.account_id for w in picked] == [SMALL, AGENCY], "one more for the agency, then cap"
    assert choose(agency, {AGENCY: 2}, free=4, caps=caps) == []


def test_one_accounts_own_cap_overrides_the_default() -> None:
    caps = Caps(per_account=1, for_account={AGENCY: 3})
    picked = choose(queue(AGENCY, 5) + queue(SMALL, 5, after_s=1), {}, free=10, caps=caps)
    assert sorted(w.account_id == AGENCY for w in picked).count(True) == 3
    assert [w.account_id for w in picked].count(SMALL) == 1


def test_positions_count_from_one_and_put_capped_runs_last() -> None:
    agency, small = queue(AGENCY, 3), queue(SMALL, 2, after_s=1)
    places = positions(agency + small, {AGENCY: 1}, Caps(per_account=2))
    assert places[small[0].run_id] == 1
    assert places[agency[0].run_id] in (2, 3)
    assert sorted(places.values()) == [1, 2, 3, 4, 5]
    assert places[agency[2].run_id] == 5, "behind the cap: after every admissible run"


def test_an_accounts_own_cap_wins_over_its_plans_which_wins_over_the_default() -> None:
    caps = Caps(
        per_account=4,
        for_account={AGENCY: 3},
        for_plan={"agency": 1, "starter": 2},
        plan_of={AGENCY: "agency", SMALL: "starter", THIRD: "unknown-plan"},
    )
    assert caps.cap(AGENCY) == 3, "the account's own cap"
    assert caps.cap(SMALL) == 2, "its plan's"
    assert caps.cap(THIRD) == 4, "a plan without a cap: the default"
    assert caps.cap(uuid.uuid4()) == 4, "no plan: the default"


def test_a_plan_cap_below_the_slots_leaves_slots_to_other_accounts() -> None:
    caps = Caps(for_plan={"agency": 2}, plan_of={AGENCY: "agency"})
    picked = choose(queue(AGENCY, 20), {}, free=4, caps=caps)
    assert [w.account_id for w in picked] == [AGENCY, AGENCY], "two slots stay free"
    picked = choose(queue(AGENCY, 20) + queue(SMALL, 3, after_s=5), {AGENCY: 2}, 2, caps)
    assert [w.account_id for w in picked] == [SMALL, SMALL]


def test_calls_waiting_for_the_ai_budget_go_to_the_account_with_fewest_in_flight() -> None:
    """The AI budget's waiters use the same order: the agency's many older calls wait behind
    the small account's one when a slot frees up."""
    agency, small = queue(AGENCY, 30), queue(SMALL, 1, after_s=3)
    (first,) = choose(agency + small, {AGENCY: 7, SMALL: 1}, free=1, caps=Caps(per_account=16))
    assert first == small[0]
    # at its cap the small account's call waits, and the agency's oldest goes
    capped = Caps(per_account=16, for_account={SMALL: 1})
    (first,) = choose(agency + small, {AGENCY: 7, SMALL: 1}, free=1, caps=capped)
    assert first == agency[0]


EVERY = timedelta(milliseconds=500)


def test_a_runs_place_is_announced_when_it_changed_at_most_once_per_interval() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    last = {a: None, b: T0, c: T0 - EVERY}
    due = announcements({a: 3, b: 2, c: 1}, last, T0 + timedelta(milliseconds=100), EVERY)
    assert due == {a: 3, c: 1}, "b was announced 100 ms ago: it waits"
    assert announcements({b: 2}, last, T0 + EVERY, EVERY) == {b: 2}, "its latest place, later"
    assert announcements({}, last, T0 + EVERY, EVERY) == {}, "nothing changed, nothing said"


def test_the_caps_come_from_the_settings_per_account_per_plan_and_by_default(monkeypatch) -> None:
    from automation.bootstrap import caps_from
    from automation.config import AutomationSettings

    monkeypatch.setenv("AUTOMATION_ACCOUNT_PLANS", json.dumps({str(AGENCY): "agency"}))
    monkeypatch.setenv("AUTOMATION_PLAN_RUN_CAPS", json.dumps({"agency": 3}))
    monkeypatch.setenv("AUTOMATION_PLAN_AI_CAPS", json.dumps({"agency": 6}))
    monkeypatch.setenv("AUTOMATION_ACCOUNT_AI_CAPS", json.dumps({str(SMALL): 2}))
    monkeypatch.setenv("AUTOMATION_MAX_RUNS_PER_ACCOUNT", "5")
    runs, ai = caps_from(AutomationSettings())
    assert (runs.cap(AGENCY), runs.cap(SMALL)) == (3, 5)
    assert (ai.cap(AGENCY), ai.cap(SMALL), ai.cap(THIRD)) == (6, 2, 16)


def test_an_agency_holding_every_slot_gives_two_back_to_a_small_account_with_two_waiting() -> None:
    agency, small = queue(AGENCY, 20), queue(SMALL, 2, after_s=5)
    assert yields(agency + small, {AGENCY: 4}, {AGENCY: 4}) == {AGENCY: 2}
    # eight waiting: still two (2 and 2 is the fair share of four slots)
    assert yields(agency + queue(SMALL, 8, after_s=5), {AGENCY: 4}, {AGENCY: 4}) == {AGENCY: 2}


def test_no_yield_without_a_gap_of_two_or_to_the_accounts_own_runs() -> None:
    agency, small = queue(AGENCY, 20), queue(SMALL, 2, after_s=5)
    assert yields(agency + small, {AGENCY: 2, SMALL: 2}, {AGENCY: 2, SMALL: 2}) == {}
    assert yields(agency + small, {AGENCY: 3, SMALL: 2}, {AGENCY: 3, SMALL: 2}) == {}, (
        "a gap of one would only trade the slot back and forth"
    )
    assert yields(agency, {AGENCY: 4}, {AGENCY: 4}) == {}, "never to itself"


def test_only_runs_that_can_yield_are_asked_and_pending_yields_count_as_given() -> None:
    agency, small = queue(AGENCY, 20), queue(SMALL, 2, after_s=5)
    # two agency runs are reserving or finishing: only one of four can be asked
    assert yields(agency + small, {AGENCY: 4}, {AGENCY: 1}) == {AGENCY: 1}
    # two already asked are leaving (left out of in_progress), their slots go to the small
    # account's two runs: nothing more to ask
    assert yields(agency + small, {AGENCY: 2}, {AGENCY: 2}, leaving=2) == {}
    assert yields(agency + small, {AGENCY: 3}, {AGENCY: 3}, leaving=1) == {AGENCY: 1}


def test_an_account_at_its_cap_is_not_given_slots_by_yields() -> None:
    agency, small = queue(AGENCY, 20), queue(SMALL, 2, after_s=5)
    caps = Caps(for_account={SMALL: 1})
    assert yields(agency + small, {AGENCY: 4}, {AGENCY: 4}, caps=caps) == {AGENCY: 1}
    assert yields(agency + small, {AGENCY: 4, SMALL: 1}, {AGENCY: 4}, caps=caps) == {}


def test_the_fullest_account_gives_first() -> None:
    small = queue(SMALL, 1, after_s=5)
    assert yields(small, {AGENCY: 5, THIRD: 3}, {AGENCY: 5, THIRD: 3}) == {AGENCY: 1}


def test_a_yield_request_whose_newcomer_took_another_slot_or_left_is_withdrawn() -> None:
    """Decided again at the run's safe point: the agency holds 4 (this run asked), the small
    account's run waits — it still yields; once another worker admitted that run into a slot
    that freed up (the small account holds 1, nothing waits), or it was cancelled, it stays."""
    small = queue(SMALL, 1)
    asked = {AGENCY: 1}
    assert still_yields(AGENCY, small, {AGENCY: 4}, {AGENCY: 3}, asked)
    assert not still_yields(AGENCY, [], {AGENCY: 4, SMALL: 1}, {AGENCY: 3}, asked), "admitted"
    assert not still_yields(AGENCY, [], {AGENCY: 4}, {AGENCY: 3}, asked), "cancelled"
    # the account's own runs waiting are no reason (a run that yielded before waits too)
    assert not still_yields(AGENCY, queue(AGENCY, 2), {AGENCY: 4}, {AGENCY: 3}, asked)


def test_a_yield_covered_by_another_runs_leaving_is_withdrawn_and_two_newcomers_need_two() -> None:
    asked = {AGENCY: 2}  # two of the agency's runs were asked, this one included
    assert not still_yields(AGENCY, queue(SMALL, 1), {AGENCY: 4}, {AGENCY: 2}, asked), (
        "the other asked run's slot goes to the one waiting run"
    )
    assert still_yields(AGENCY, queue(SMALL, 2), {AGENCY: 4}, {AGENCY: 2}, asked)
    # a gap of one is no reason: the two would trade the slot back and forth
    assert not still_yields(
        AGENCY, queue(SMALL, 1), {AGENCY: 2, SMALL: 1}, {AGENCY: 1}, {AGENCY: 1}
    )
    # a small account at its cap cannot take the slot
    capped = Caps(for_account={SMALL: 0})
    assert not still_yields(AGENCY, queue(SMALL, 1), {AGENCY: 4}, {AGENCY: 3}, {AGENCY: 1}, capped)


def test_a_queued_run_resumes_at_its_first_stage_not_completed() -> None:
    run = QueuedRun(uuid.uuid4(), SMALL, uuid.uuid4(), (4, 2, 6))
    assert run.next_stage == 2, "never started: its first stage"
    assert QueuedRun(run.run_id, SMALL, run.site_id, (2, 4, 6), frozenset({2})).next_stage == 4
    assert QueuedRun(run.run_id, SMALL, run.site_id, (2, 4), frozenset({2, 4})).next_stage == 4
