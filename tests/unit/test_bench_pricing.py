"""The cost benchmark's Lambda duration (bench/common.py): the embedded stack's answers are not
AWS's or Amazon's, so each call is billed at a stated latency instead of the time it took here."""
import time

import pytest

from bench.common import PRICES, ApiCallCounter, function_memory_mb, list_price
from chalicelib import resources


def test_an_invocation_is_billed_its_own_time_and_each_call_at_the_stated_latency():
    counter = ApiCallCounter()
    # 1 s in all, 0.6 s of it in 20 AWS calls (moto), 0.01 s in one request to the simulator
    counter.invocations = [("tasks", 0.25, 1.0, 0.6, 20, 0.01, 1), ("intake", 0.5, 0.1, 0.05, 2, 0.0, 0)]
    assert counter.billed_seconds() == pytest.approx(1.1)
    assert counter.billed_seconds((0.01, 0.3)) == pytest.approx((1.0 - 0.61 + 0.2 + 0.3) + (0.1 - 0.05 + 0.02))
    assert counter.billed_gb_seconds((0.01, 0.3), "tasks") == pytest.approx(0.25 * 0.89)
    dollars = list_price(counter, PRICES, invocations=2, latency=(0.01, 0.3))
    assert dollars == pytest.approx(2 * PRICES["lambda"] + (0.25 * 0.89 + 0.5 * 0.07) * PRICES["lambda:gb-second"])


def test_a_wrapped_handler_records_its_function_s_memory_and_time():
    counter = ApiCallCounter()
    handler = counter.wrap(lambda event, context: time.sleep(0.01) or "done", "tasks")
    assert handler({}, None) == "done"
    (function, gb, wall, aws_s, aws_n, amazon_s, amazon_n), = counter.invocations
    assert (function, gb, aws_n, amazon_n) == ("tasks", resources.TASKS.memory_mb / 1024, 0, 0)
    assert wall >= 0.01 and counter.handler_seconds == wall


def test_a_function_s_memory_is_its_declared_one():
    assert function_memory_mb("work") == resources.WORK.memory_mb == 1024
    assert function_memory_mb("tasks") == resources.TASKS.memory_mb
    assert function_memory_mb("api_handler") == 512
