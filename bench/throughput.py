"""Intake throughput on the embedded stack: ORDER_CHANGE notifications per second through the
intake handler, one in-process worker, the intake queue only (tasks are left queued).

Measured twice in one stack: first with moto as it ships (the headline figure: what `make demo`
gets), then, with a second disjoint batch of messages, with infra/local/moto_speedups.py applied, to
show how much of the time is moto's SQS rather than our handler.
"""
from __future__ import annotations

import time
from typing import Any

from bench.common import binding, drain_one_queue, order_change_bodies, say, start_runtime
from bench.pollers import clear_metrics_after

MESSAGES = 1000


def _messages(seed: int, count: int) -> tuple[dict[str, Any], list[str]]:
    from infra.local.scenario import build_scenario

    # ~3 ORDER_CHANGE messages per order in the default scenario: enough orders for `count`.
    scenario = build_scenario(seed=seed, orders=max(10, count // 2))
    return scenario.world, order_change_bodies(scenario.messages)[:count]


def _drain(runtime, intake, bodies: list[str]) -> tuple[float, int]:
    runtime.deliver(bodies)
    records_before = runtime.worker.stats["records"]
    started = time.monotonic()
    if not drain_one_queue(runtime, intake, timeout=900):
        raise RuntimeError("the intake queue did not drain within 15 minutes")
    return time.monotonic() - started, runtime.worker.stats["records"] - records_before


def run(messages: int = MESSAGES) -> dict[str, Any]:
    from infra.local import moto_speedups

    count = messages
    world, first = _messages(seed=21, count=count)
    world_2, second = _messages(seed=22, count=count)
    runtime = start_runtime({"orders": world["orders"] + world_2["orders"],
                             "sellers": world["sellers"] + world_2["sellers"]})
    try:
        intake = binding(runtime, "intake")
        intake.handler = clear_metrics_after(intake.handler)
        stock_seconds, stock_records = _drain(runtime, intake, first)
        patched = moto_speedups.apply()
        fast_seconds, fast_records = _drain(runtime, intake, second) if patched else (float("nan"), 0)

        from chalicelib.core.observability import OUTCOMES

        rate = len(first) / stock_seconds
        fast_rate = len(second) / fast_seconds if patched else None
        result: dict[str, Any] = {
            "figure": round(rate, 1),
            "unit": "ORDER_CHANGE notifications per second through intake (embedded stack, stock moto)",
            "target": "report only",
            "pass": None,
            "messages": len(first),
            "seconds": round(stock_seconds, 2),
            "records_received": stock_records,
            "with_moto_sqs_speedups": {"messages": len(second), "seconds": round(fast_seconds, 2),
                                       "per_second": fast_rate and round(fast_rate, 1),
                                       "records_received": fast_records},
            "outcomes": {k.split(".", 1)[1]: v for k, v in sorted(OUTCOMES.items()) if k.startswith("intake.")},
            "worker": "the stack's single in-process worker, batches of 10",
        }
        extra = f"; {fast_rate:.1f}/s with moto's SQS scans patched out" if fast_rate else ""
        result["summary"] = (f"[throughput] {rate:.1f} ORDER_CHANGE notifications/s through intake "
            f"on the embedded stack "
            f"({len(first)} messages in {stock_seconds:.1f} s, one worker, batches of 10; report only){extra}")
        say(result["summary"])
        return result
    finally:
        runtime.stop()
