"""The usage thresholds announced once per week (METERING.md "Thresholds"). Pure."""

import math

THRESHOLDS = (80, 100)


def reached(*, used: int, quota: int, threshold: int) -> bool:
    """`used` is at least `threshold` % of `quota` (a zero quota is reached by any usage)."""
    return used > 0 and used * 100 >= threshold * quota


def percent(used: int, quota: int) -> int:
    """Whole percent used, rounded up (80 is shown when the 80 % event is sent); past 100 beyond the quota."""
    if quota <= 0:
        return 100 if used > 0 else 0
    return math.ceil(used * 100 / quota)
