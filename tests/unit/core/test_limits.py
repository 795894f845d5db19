"""The shared limiter's arithmetic never books more than Amazon's bucket allows."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.limits import DEFAULT_LIMITS, limit_for, release, reserve, reserve_block


def test_every_operation_we_call_has_amazons_default_limit():
    assert DEFAULT_LIMITS["getOrder"] == (0.5, 30)
    assert DEFAULT_LIMITS["searchOrders"] == (0.0056, 20)


def test_an_idle_bucket_lets_a_burst_through_then_spaces_calls_by_the_rate():
    limit = limit_for("getOrder")
    tat, waits = None, []
    for _ in range(limit.burst + 3):
        tat, wait = reserve(tat, 1000.0, limit)
        waits.append(wait)
    assert waits[:limit.burst] == [0.0] * limit.burst
    assert waits[limit.burst:] == pytest.approx([limit.interval * k for k in (1, 2, 3)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), min_size=1, max_size=200),
       st.sampled_from(sorted(DEFAULT_LIMITS)))
def test_booked_slots_never_exceed_amazons_bucket(gaps, operation):
    """Amazon's own bucket, replayed over our booked call times, is never overdrawn."""
    rate, burst = DEFAULT_LIMITS[operation]
    limit = limit_for(operation, scale=1.0)
    now, tat, calls = 0.0, None, []
    for gap in gaps:
        now += gap
        tat, wait = reserve(tat, now, limit)
        calls.append(now + wait)
    tokens, last = float(burst), 0.0
    for at in sorted(calls):
        tokens = min(burst, tokens + (at - last) * rate)
        last = at
        assert tokens >= 1 - 1e-9
        tokens -= 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.floats(min_value=0, max_value=5000, allow_nan=False)),
       st.floats(min_value=0, max_value=5000, allow_nan=False), st.integers(min_value=1, max_value=10),
       st.integers(min_value=0, max_value=10), st.sampled_from(sorted(DEFAULT_LIMITS)))
def test_a_block_books_the_slots_of_as_many_bookings_and_its_tail_can_be_given_back(tat, now, count, unused,
                                                                                     operation):
    limit = limit_for(operation)
    block_tat, block_waits = reserve_block(tat, now, limit, count)
    one_by_one, waits = tat, []
    for _ in range(count):
        one_by_one, wait = reserve(one_by_one, now, limit)
        waits.append(wait)
    assert block_tat == pytest.approx(one_by_one) and block_waits == pytest.approx(waits, abs=1e-6)
    unused = min(unused, count)
    fewer_tat, _ = reserve_block(tat, now, limit, count - unused) if count > unused else (None, [])
    if fewer_tat is not None:  # giving back the unused tail leaves the bucket as if only the rest were booked
        assert release(block_tat, limit, unused) == pytest.approx(fewer_tat)


def test_a_late_call_may_still_use_its_slot_within_half_the_burst():
    from chalicelib.core.limiter import DynamoRateLimiter

    limit = limit_for("getOrder")
    assert DynamoRateLimiter().lateness_allowed("getOrder") == pytest.approx(limit.tolerance / 2)


def test_our_limits_are_the_usage_plans_amazons_models_print():
    """Our side (chalicelib/core/limits.py) and Amazon's (the simulator, from the copied
    models) hold the same plan for every operation both know."""
    from infra.local.amazon import DEFAULT_RATE_LIMITS as AMAZON

    shared = set(DEFAULT_LIMITS) & set(AMAZON)
    assert {"getOrder", "searchOrders", "confirmShipment"} <= shared
    assert {op: DEFAULT_LIMITS[op] for op in shared} == {op: AMAZON[op] for op in shared}
