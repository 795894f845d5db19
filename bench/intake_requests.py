"""AWS requests per ORDER_CHANGE on intake, deduplication included.

A realistic stream from `build_scenario` (its well-formed ORDER_CHANGE messages only, with
their duplicates and reordering) goes through the intake handler on the embedded stack. Only
the calls made inside the handler invocation are counted: the worker's SQS receive and delete
calls are what the Lambda service does for us in AWS.
"""
from __future__ import annotations

import time
from typing import Any

from bench.common import ApiCallCounter, binding, drain_one_queue, order_change_bodies, say, start_runtime, verdict

TARGET = 1.2  # issue 13: at most 1.2 AWS requests per ORDER_CHANGE on average


def run(orders: int = 500, seed: int = 7) -> dict[str, Any]:
    from bench.pollers import clear_metrics_after
    from infra.local import moto_speedups
    from infra.local.scenario import build_scenario

    scenario = build_scenario(seed=seed, orders=orders)
    bodies = order_change_bodies(scenario.messages)
    moto_speedups.apply()  # faster, and changes no count: the handler's calls are the same
    # Orders only: the world's MCF orders would have Amazon push FULFILLMENT_ORDER_STATUS too.
    world = {key: value for key, value in scenario.world.items() if key != "fulfillmentOrders"}
    runtime = start_runtime(world)
    try:
        intake = binding(runtime, "intake")
        counter = ApiCallCounter().install()
        intake.handler = counter.wrap(clear_metrics_after(intake.handler), "intake")
        runtime.deliver(bodies)
        batches_before = runtime.worker.stats["batches"]
        started = time.monotonic()
        if not drain_one_queue(runtime, intake, timeout=600):
            raise RuntimeError("the intake queue did not drain within 10 minutes")
        seconds = time.monotonic() - started
        counter.uninstall()
        batches = runtime.worker.stats["batches"] - batches_before

        from chalicelib.core.observability import OUTCOMES

        outcomes = {k.split(".", 1)[1]: v for k, v in sorted(OUTCOMES.items()) if k.startswith("intake.")}
        processed = sum(outcomes.get(k, 0) for k in ("created", "updated", "stale", "duplicate"))
        n = len(bodies)
        per_message = counter.total / n
        result = {
            "figure": round(per_message, 3),
            "unit": "AWS API calls per ORDER_CHANGE message",
            "target": f"<= {TARGET:g}",
            "pass": per_message <= TARGET,
            "messages": n,
            "scenario_duplicates": scenario.expected["duplicates"],
            "scenario_reordered_orders": scenario.expected["reordered"],
            "orders": orders,
            "outcomes": outcomes,
            "processed": processed,
            "invocations": batches,
            "api_calls": counter.total,
            "http_attempts": counter.attempts,
            "by_operation": dict(counter.calls.most_common()),
            "by_operation_and_target": dict(counter.by_target.most_common()),
            "per_message_by_operation": {k: round(v / n, 3) for k, v in counter.calls.most_common()},
            "seconds": round(seconds, 2),
        }
        breakdown = ", ".join(f"{k} {v}" for k, v in result["per_message_by_operation"].items())
        result["summary"] = (f"[requests] {per_message:.3f} AWS requests per ORDER_CHANGE on intake "
            f"(target <= {TARGET:g}) "
            f"{verdict(result['pass'])}  -- {counter.total} calls / {n} messages "
            f"({scenario.expected['duplicates']} duplicates) in {batches} invocations; per message: {breakdown}")
        say(result["summary"])
        if processed != n:
            say(f"[requests] warning: {n} messages delivered but {processed} handled as ORDER_CHANGE: {outcomes}")
        return result
    finally:
        runtime.stop()
