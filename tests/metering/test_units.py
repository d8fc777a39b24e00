"""Costs → units (METERING.md "Costs → units"): metering/units.py, pure."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metering.units import BASE_CATEGORY, ZERO_COST_SKIPPED, BadCost, cap, units_from_costs

RATIOS = {"gpu": "2.5", "default": "1"}


def compute(costs, *, ratios=RATIOS, base=1, max_units=1_000_000, ratio=1000):
    return units_from_costs(costs, ratios=ratios, dollars_to_unit_ratio=ratio, run_base=base, max_units=max_units)


@pytest.mark.parametrize(
    ("costs", "ratios", "expected_units", "expected_breakdown"),
    [
        # floor(cost × ratio × 1000) per category; the ratio: the category, then `default`, then 1.
        ({"gpu": Decimal("0.42")}, RATIOS, 1050, {"gpu": 1050}),
        ({"llm": Decimal("0.0137")}, RATIOS, 13, {"llm": 13}),
        ({"llm": Decimal("0.0137")}, {}, 13, {"llm": 13}),
        ({"llm": Decimal("0.0137")}, {"default": "3"}, 41, {"llm": 41}),
        ({"gpu": "0.1", "llm": 0.2}, RATIOS, 450, {"gpu": 250, "llm": 200}),
        # 0.1 + 0.2 as floats would floor to 300.00000000000006 → 300 either way; 0.29 × 1000 as float is 290.0…
        ({"x": "0.29"}, {}, 290, {"x": 290}),
        ({"x": 0.29}, {}, 290, {"x": 290}),
        # Skipped: missing, not finite, ≤ 0 (the others still count).
        ({"a": None, "b": "NaN", "c": "Infinity", "d": "-1", "e": 0, "f": "0.002"}, {}, 2, {"f": 2}),
    ],
)
def test_costs_to_units(costs, ratios, expected_units, expected_breakdown):
    result = compute(costs, ratios=ratios)
    assert (result.units, result.breakdown, result.reason) == (expected_units, expected_breakdown, "")


def test_no_costs_at_all_is_the_run_base():
    assert compute(None, base=3).units == 3
    assert compute({}, base=3).breakdown == {BASE_CATEGORY: 3}


def test_costs_that_are_all_zero_are_zero_units_recorded_as_skipped():
    result = compute({"gpu": 0, "llm": "0", "x": None})
    assert (result.units, result.breakdown, result.reason) == (0, {}, ZERO_COST_SKIPPED)


@pytest.mark.parametrize("bad", [True, [1], {"a": 1}, "abc", "1,5", "1e999999", 10**10])
def test_a_cost_that_is_not_a_number_is_refused(bad):
    with pytest.raises(BadCost):
        compute({"gpu": bad})


def test_a_category_name_outside_the_pattern_is_refused():
    with pytest.raises(BadCost):
        compute({"gpu.large": "1"})


def test_the_cap_scales_the_breakdown_by_largest_remainder():
    # 600 / 300 / 100 capped at 7: shares 4.2 / 2.1 / 0.7 → floors 4 / 2 / 0, one left → the largest remainder (0.7).
    result = cap({"a": 600, "b": 300, "c": 100}, 7)
    assert (result.units, result.breakdown, result.reason) == (7, {"a": 4, "b": 2, "c": 1}, "capped")


def test_under_the_cap_nothing_changes():
    assert cap({"a": 5}, 5).breakdown == {"a": 5}


@settings(deadline=None)  # a shared, loaded machine: no per-example time limit
@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,6}", fullmatch=True),
        st.decimals(min_value=Decimal("-5"), max_value=Decimal("50"), allow_nan=False, places=6)
        | st.sampled_from([None, "NaN", "Infinity", "-Infinity", 0]),
        max_size=8,
    ),
    st.integers(min_value=0, max_value=5000),
)
def test_units_are_never_negative_and_the_breakdown_sums_to_them(costs, max_units):
    result = compute(costs, max_units=max_units)
    assert result.units >= 0
    assert all(v >= 0 for v in result.breakdown.values())
    assert sum(result.breakdown.values()) == result.units
    assert result.units <= max(max_units, 0)


@settings(deadline=None)  # a shared, loaded machine: no per-example time limit
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.integers(0, 10**9), min_size=1, max_size=10),
    st.integers(min_value=0, max_value=10**6),
)
def test_a_capped_breakdown_always_sums_to_the_cap(breakdown, max_units):
    result = cap(breakdown, max_units)
    total = sum(breakdown.values())
    assert sum(result.breakdown.values()) == min(total, max_units)
    # Scaling never gives a bucket more than it had, nor more than one unit above its exact share.
    for name, value in result.breakdown.items():
        assert 0 <= value <= breakdown[name]
        if total > max_units:
            assert value - breakdown[name] * max_units / total < 1 + 1e-9
