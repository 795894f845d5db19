"""The per-container cache behind /health."""
from chalicelib.core.wiring import Fresh


def test_a_fresh_value_is_computed_once_per_period():
    moment, computed = [0.0], []
    fresh = Fresh(lambda: computed.append(moment[0]) or len(computed), 15.0, clock=lambda: moment[0])
    assert [fresh.get() for _ in range(5)] == [1] * 5
    moment[0] = 14.9
    assert fresh.get() == 1
    moment[0] = 15.0
    assert fresh.get() == 2 and computed == [0.0, 15.0]
