"""A batch's handler time is observed for all its messages at once: the histogram must read as
if each message had been observed alone."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from igny8.messaging.batches import observe_many


def _samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in histogram.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@pytest.mark.parametrize(("amount", "n"), [(0.003, 1), (0.003, 57), (0.5, 200), (99.0, 3)])
def test_observe_many_records_what_n_observations_record(amount: float, n: int) -> None:
    one_by_one = Histogram("one_by_one", "", ["topic"], registry=CollectorRegistry())
    at_once = Histogram("one_by_one", "", ["topic"], registry=CollectorRegistry())
    for _ in range(n):
        one_by_one.labels("t").observe(amount)
    observe_many(at_once.labels("t"), amount, n)
    assert _samples(at_once) == pytest.approx(_samples(one_by_one))
    assert _samples(at_once)[("one_by_one_count", "")] == n


def test_observe_many_falls_back_to_observe_without_the_internals() -> None:
    seen: list[float] = []

    class Plain:
        def observe(self, amount: float) -> None:
            seen.append(amount)

    observe_many(Plain(), 0.25, 4)
    assert seen == [0.25] * 4
