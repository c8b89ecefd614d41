"""The fair order of queued runs (domain.scheduling), with counts instead of a clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from automation.domain.scheduling import Caps, Waiting, choose, fair_order, positions

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
    caps = Caps(runs_per_account=2)
    picked = choose(agency + small, {AGENCY: 1}, free=4, caps=caps)
    assert [w.account_id for w in picked] == [SMALL, AGENCY], "one more for the agency, then cap"
    assert choose(agency, {AGENCY: 2}, free=4, caps=caps) == []


def test_one_accounts_own_cap_overrides_the_default() -> None:
    caps = Caps(runs_per_account=1, runs_for_account={AGENCY: 3})
    picked = choose(queue(AGENCY, 5) + queue(SMALL, 5, after_s=1), {}, free=10, caps=caps)
    assert sorted(w.account_id == AGENCY for w in picked).count(True) == 3
    assert [w.account_id for w in picked].count(SMALL) == 1


def test_positions_count_from_one_and_put_capped_runs_last() -> None:
    agency, small = queue(AGENCY, 3), queue(SMALL, 2, after_s=1)
    places = positions(agency + small, {AGENCY: 1}, Caps(runs_per_account=2))
    assert places[small[0].run_id] == 1
    assert places[agency[0].run_id] in (2, 3)
    assert sorted(places.values()) == [1, 2, 3, 4, 5]
    assert places[agency[2].run_id] == 5, "behind the cap: after every admissible run"
