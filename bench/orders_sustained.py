"""Sustained intake on the embedded stack, in real time, against the simulator's real limits
(getOrder 0.5/s burst 30, searchOrders 0.0056/s burst 20): one seller's orders arriving at
50,000 a day for `minutes`, each placed (PENDING) and paid for 5 minutes later (UNSHIPPED), as
Amazon would push them; the stack's own worker takes the queues. An order's wait is from the
notification that made its details due until they were saved, through whichever door the code
chose. The same window is run through bench/orders_model.py: the model, which the day-long
figures and the ceilings come from, is checked against the stack it stands for.

A window, not a day: the embedded stack answers in real time, and moto in the process takes
about a quarter of its capacity at this rate. The model's day starts as this window does, with
no backlog.
"""
from __future__ import annotations

import heapq
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import say, start_runtime, verdict
from bench.orders_scale import SELLER, _order_at, _order_base, _world

PER_DAY = 50_000
MINUTES = 20.0
TARGET_WAIT = 15 * 60.0
AFN_SHARE = 0.7  # as the model's
PAID_AFTER = 300.0  # seconds from PENDING to UNSHIPPED, as the model's
SAMPLE = 10.0


def run(minutes: float = MINUTES, per_day: float = PER_DAY, seed: int = 5, drain_minutes: float = 15.0
        ) -> dict[str, Any]:
    from bench.orders_model import Run
    from chalicelib.flows.orders import rules, service
    from chalicelib.flows.orders.rules import OrderStatus
    from chalicelib.flows.orders.store import DynamoOrders
    from infra.local.amazon.orders import order_change_payload

    runtime = start_runtime(_world(), rate_scale=1.0)
    rng = random.Random(seed)
    horizon = minutes * 60.0
    count = int(per_day * minutes / 1440.0)
    placed = datetime.now(UTC)
    orders = []
    events: list[tuple[float, int, OrderStatus]] = []
    for i in range(count):
        order_id = f"306-{i:07d}-{seed:07d}"
        base = _order_base(order_id, placed)
        channel = "AFN" if rng.random() < AFN_SHARE else "MFN"
        orders.append((order_id, base, channel))
        start = rng.uniform(0.0, horizon)
        for offset, status in ((0.0, OrderStatus.PENDING), (PAID_AFTER, OrderStatus.UNSHIPPED)):
            if start + offset < horizon:
                heapq.heappush(events, (start + offset, i, status))

    saved: dict[str, float] = {}
    original = DynamoOrders.save_details

    def saving(self, order_id, details):
        stored = original(self, order_id, details)
        if stored is not None:
            saved.setdefault(order_id, time.monotonic())
        return stored

    DynamoOrders.save_details = saving  # type: ignore[method-assign]
    service.DETAILS_READ.clear()
    stop = threading.Event()
    worker = threading.Thread(target=runtime.worker.run_forever, args=(stop.is_set,), name="bench-worker",
                              daemon=True)
    due_since: dict[str, float] = {}
    backlog: list[tuple[float, int]] = []
    started = time.monotonic()
    worker.start()
    try:
        next_sample = 0.0
        while events:
            offset, i, status = events[0]
            elapsed = time.monotonic() - started
            if elapsed >= next_sample:
                backlog.append((round(elapsed), sum(1 for o in due_since if o not in saved)))
                next_sample += SAMPLE
            if offset > elapsed:
                time.sleep(min(offset - elapsed, 0.2))
                continue
            heapq.heappop(events)
            order_id, base, channel = orders[i]
            at = datetime.now(UTC)
            raw = _order_at(base, status.name, channel, at)
            runtime.simulator.upsert_order(SELLER, raw)
            runtime.simulator.notifications.push(SELLER, "ORDER_CHANGE", order_change_payload(SELLER, raw, at))
            if order_id not in due_since and rules.details_due(status, None, channel) is not None:
                due_since[order_id] = time.monotonic()
        deadline = time.monotonic() + drain_minutes * 60.0
        while any(o not in saved for o in due_since) and time.monotonic() < deadline:
            elapsed = time.monotonic() - started
            backlog.append((round(elapsed), sum(1 for o in due_since if o not in saved)))
            time.sleep(SAMPLE)
    finally:
        stop.set()
        worker.join(timeout=120)
        DynamoOrders.save_details = original  # type: ignore[method-assign]
        runtime.stop()
    waits = sorted(saved[o] - due for o, due in due_since.items() if o in saved)
    missing = sum(1 for o in due_since if o not in saved)
    model = Run(per_day, True, True, minutes / 60.0).simulate()
    model_waits = sorted(w for _, w in model.waits)

    def p99(values: list[float]) -> float:
        return round(values[int(0.99 * (len(values) - 1))], 1) if values else 0.0

    longest = round(waits[-1], 1) if waits else 0.0
    stack: dict[str, Any] = {
        "orders": count, "details_due": len(due_since), "details_saved": len(waits), "never_read": missing,
        "reads": dict(service.DETAILS_READ), "max_wait_seconds": longest, "p99_wait_seconds": p99(waits),
        "backlog_max": max((b for _, b in backlog), default=0),
        "backlog_every_minute": [b for t, b in backlog if t % 60 < SAMPLE]}
    modelled = {"details_due": len(model.waits), "reads": dict(model.reads),
                "max_wait_seconds": round(model_waits[-1], 1) if model_waits else 0.0,
                "p99_wait_seconds": p99(model_waits)}
    ok = missing == 0 and longest < TARGET_WAIT
    summary = (f"[sustained] {per_day:,.0f} orders/day for {minutes:g} minutes on the embedded stack, real time, "
               f"Amazon's limits: {len(waits)}/{len(due_since)} orders got their details, reads {stack['reads']}, "
               f"max wait {stack['max_wait_seconds']} s (p99 {stack['p99_wait_seconds']} s), backlog at most "
               f"{stack['backlog_max']}; the model over the same window: max wait {modelled['max_wait_seconds']} s "
               f"(p99 {modelled['p99_wait_seconds']} s), reads {modelled['reads']} (target: every order, each under "
               f"{TARGET_WAIT / 60:g} minutes)  "
               f"{verdict(ok)}")
    say(summary)
    return {"summary": summary, "figure": stack["max_wait_seconds"], "unit": "seconds, the longest wait for details",
            "target": f"< {TARGET_WAIT:g} and every order read", "pass": ok, "stack": stack, "model": modelled}


if __name__ == "__main__":
    import sys

    run(float(sys.argv[1]) if len(sys.argv) > 1 else MINUTES)
