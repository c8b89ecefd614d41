"""The one credit formula billing charges with and callers size holds and claims with."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igny8.contracts.credits import Operation, Price, PricingUnit
from igny8.contracts.pricing import OPERATIONS, credits_for


def price(unit: str, per_unit: int, minimum: int) -> Price:
    return Price(unit=PricingUnit(unit), credits_per_unit=per_unit, minimum_credits=minimum)


def test_words_are_rounded_up_to_whole_units_and_never_below_the_minimum() -> None:
    per_100 = price("per_100_words", 1, 5)
    assert credits_for(per_100, 0) == 0, "nothing used costs nothing"
    assert credits_for(per_100, 1) == 5
    assert credits_for(per_100, 501) == 6
    assert credits_for(price("per_200_words", 1, 2), 401) == 3
    assert credits_for(price("per_image", 5, 5), 3) == 15


def test_a_negative_quantity_is_refused() -> None:
    with pytest.raises(ValueError):
        credits_for(price("per_item", 1, 1), -1)


def test_the_operation_list_is_the_contracts_operation_enum() -> None:
    assert tuple(op.value for op in Operation) == OPERATIONS


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 50), st.integers(0, 50))
def test_more_usage_never_costs_less(a: int, b: int, per_unit: int, minimum: int) -> None:
    p = price("per_100_words", per_unit, minimum)
    assert credits_for(p, min(a, b)) <= credits_for(p, max(a, b))
