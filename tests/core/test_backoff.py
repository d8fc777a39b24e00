"""The retry delay of a sync task: exponential, full jitter, capped, never sooner than Stripe's Retry-After."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.backoff import backoff_delay


@pytest.mark.parametrize(
    "retries, draw, retry_after, expected",
    [
        (0, 1.0, None, 2.0),  # ceiling base * 2**0
        (1, 1.0, None, 4.0),
        (3, 0.5, None, 8.0),  # half of 16
        (10, 1.0, None, 300.0),  # capped
        (10, 0.0, None, 0.0),  # full jitter reaches 0
        (0, 0.1, 30, 30.0),  # Retry-After is a floor
        (4, 1.0, 3, 32.0),  # ... not a ceiling
        (-1, 1.0, None, 2.0),
    ],
)
def test_table(retries, draw, retry_after, expected):
    assert backoff_delay(retries, base=2, cap=300, retry_after=retry_after, rand=lambda: draw) == expected


@given(
    retries=st.integers(min_value=0, max_value=50),
    draw=st.floats(min_value=0, max_value=1),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=3600)),
)
def test_bounds(retries, draw, retry_after):
    delay = backoff_delay(retries, base=2, cap=300, retry_after=retry_after, rand=lambda: draw)
    assert 0 <= delay <= max(300, retry_after or 0)
    assert delay <= min(300, 2 * 2**retries) or delay == retry_after
    if retry_after is not None:
        assert delay >= retry_after


def test_jitter_spreads_workers_out():
    delays = {round(backoff_delay(5, base=2, cap=300), 6) for _ in range(50)}
    assert len(delays) > 40
