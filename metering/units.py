"""Costs → meter units (METERING.md "Costs → units"). Pure: no ORM, no settings (the caller passes them), no float.

Per category: floor(cost × ratio × dollars_to_unit_ratio), the ratio looked up as the category, then `default`,
then 1. A cost that is missing, not finite or ≤ 0 is skipped. No costs at all → `run_base` units; costs that are
all skipped → 0 units (`zero_cost_skipped`). One operation is capped at `max_units`: the breakdown is scaled to
the cap, floored, and the remainder given to the largest fractional parts (largest remainder, ties to the larger
bucket then the category name) so that it sums to the cap exactly."""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

CATEGORY = re.compile(r"^[a-zA-Z0-9_-]+$")
BASE_CATEGORY = "base"  # the breakdown's bucket for an operation reported without costs
ZERO_COST_SKIPPED = "zero_cost_skipped"
MAX_COST = Decimal(10**9)  # dollars, for one category of one operation


class BadCost(ValueError):
    """A cost that is not a number (a string that is not one, a list, a boolean): the request is wrong."""


@dataclass(frozen=True)
class Units:
    units: int
    breakdown: dict[str, int] = field(default_factory=dict)
    reason: str = ""  # "" | ZERO_COST_SKIPPED | "capped"


def parse_cost(value) -> Decimal | None:
    """A cost as a Decimal, or None when it is to be skipped (missing, not finite, ≤ 0). Floats are taken by their
    shortest repr (what the JSON said), never by their binary value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal, float)):
        raise BadCost(f"A cost is a decimal number, not {type(value).__name__}.")
    try:
        cost = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise BadCost(f"A cost is a decimal number, not {value!r}.") from None
    if not cost.is_finite() or cost <= 0:
        return None
    if cost > MAX_COST:
        # A typo, not a cost; and 1e999999 dollars would overflow Decimal's context on the way to units.
        raise BadCost(f"A cost above {MAX_COST:,} dollars is refused.")
    return cost


def ratio_for(category: str, ratios: Mapping[str, object]) -> Decimal:
    raw = ratios.get(category, ratios.get("default", 1))
    try:
        ratio = Decimal(str(raw))
    except InvalidOperation:
        return Decimal(1)
    return ratio if ratio.is_finite() and ratio >= 0 else Decimal(1)


def units_from_costs(
    costs: Mapping[str, object] | None,
    *,
    ratios: Mapping[str, object],
    dollars_to_unit_ratio: int,
    run_base: int,
    max_units: int,
) -> Units:
    if not costs:
        return cap({BASE_CATEGORY: run_base}, max_units)
    breakdown: dict[str, int] = {}
    for category, value in costs.items():
        if not CATEGORY.match(category):
            raise BadCost(f"Category {category!r}: letters, digits, '_' and '-' only.")
        cost = parse_cost(value)
        if cost is None:
            continue
        breakdown[category] = math.floor(cost * ratio_for(category, ratios) * dollars_to_unit_ratio)
    if not breakdown:
        return Units(0, {}, ZERO_COST_SKIPPED)
    return cap(breakdown, max_units)


def cap(breakdown: Mapping[str, int], max_units: int) -> Units:
    """The breakdown itself when its total is within `max_units`, else scaled to sum to `max_units` exactly."""
    total = sum(breakdown.values())
    if total <= max_units:
        return Units(total, dict(breakdown))
    shares = {name: Fraction(units * max_units, total) for name, units in breakdown.items()}
    floored = {name: math.floor(share) for name, share in shares.items()}
    left = max_units - sum(floored.values())
    by_remainder = sorted(shares, key=lambda name: (-(shares[name] - floored[name]), -breakdown[name], name))
    for name in by_remainder[:left]:
        floored[name] += 1
    return Units(max_units, floored, "capped")
