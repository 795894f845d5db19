"""Confirmation drain: N shipments recorded through the shipments flow, confirmed to the Amazon
simulator enforcing confirmShipment's usage plan (2 req/s, burst 10), time-scaled by
`rate_scale`, with a share of the confirmations applied by Amazon and then timed out (the answer
never arrives).

The bound the limit sets, from the first accepted confirmShipment to the last, is
(N - burst) / (rate x scale). We measure the same span from the simulator's request log, the
share of calls answered 429, and the duplicate packages (a package reference Amazon holds twice
for one order: must be 0). Also the AWS requests per recorded shipment, end to end: recording it
(the API's work), confirming it (the task), and taking in Amazon's ORDER_CHANGE back (intake).

Targets: span <= 1.15 x the bound, < 1% of confirmShipment calls answered 429, 0 duplicates.
"""
from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import EARLIER, ApiCallCounter, price_requests, say, start_runtime, verdict

RATE, BURST = 2.0, 10  # Amazon's confirmShipment usage plan
TARGET_RATIO = 1.15
TARGET_429_SHARE = 0.01
SELLER, MARKETPLACE = "A2EUQ1WTGCTBG2", "A1F83G8C2ARO7P"
def run(shipments: int = 1000, rate_scale: float = 1.5, timeout_share: float = 0.05, seed: int = 7) -> dict[str, Any]:
    from chalicelib.core import wiring as core
    from chalicelib.flows.orders import wiring as orders
    from chalicelib.flows.orders.rules import OrderChange, OrderLine, OrderStatus
    from chalicelib.flows.shipments import service
    from chalicelib.flows.shipments import wiring as flow
    from chalicelib.flows.shipments.rules import ShipmentRequest, ShipmentState
    from infra.local import moto_speedups
    from infra.local.amazon import APPLY_THEN_DROP
    from infra.local.amazon.orders import unshipped_example

    moto_speedups.apply()
    world = {"applicationId": "amzn1.sellerapps.app.bench", "orders": [],
             "sellers": [{"sellerId": SELLER, "marketplaces": [MARKETPLACE], "refreshToken": "Atzr|bench"}]}
    runtime = start_runtime(world, rate_scale=rate_scale)
    counter = ApiCallCounter().install()
    try:
        now = datetime.now(UTC)
        raw_orders = [unshipped_example(f"203-{n:07d}-{uuid.uuid4().int % 10**7:07d}", now - timedelta(days=1))
                      for n in range(shipments)]
        for raw in raw_orders:
            runtime.simulator.upsert_order(SELLER, raw)
            lines = tuple(OrderLine(str(i["orderItemId"]), (i.get("product") or {}).get("sellerSku"),
                                    int(i["quantityOrdered"])) for i in raw["orderItems"])
            orders.orders().apply_change(OrderChange(
                SELLER, raw["orderId"], MARKETPLACE, OrderStatus.UNSHIPPED, now - timedelta(hours=2),
                str(uuid.uuid4()), fulfillment_channel="MFN", purchase_date=now - timedelta(days=1), lines=lines), now)

        # 1. The warehouse records one package per order (what POST /orders/{id}/shipments does).
        with counter.counting():
            for raw in raw_orders:
                request = ShipmentRequest("DHL", f"JD{uuid.uuid4().int % 10**18:018d}", now - timedelta(minutes=5),
                                          tuple((str(i["orderItemId"]), None, int(i["quantityOrdered"]))
                                                for i in raw["orderItems"]))
                service.record_shipment(flow.record_ports(), raw["orderId"], request, now)
                core.task_queue().flush()
        recorded = Counter(counter.calls)

        # 2. The task queue drains at Amazon's pace, 5% of confirmations applied then dropped.
        runtime.simulator.reset_stats()
        runtime.simulator.inject_fault_share("confirmShipment", APPLY_THEN_DROP, timeout_share, seed)
        tasks = next(b for b in runtime.worker.queues if b.name == "tasks")
        tasks.handler = counter.wrap(tasks.handler, "tasks")
        started = time.monotonic()
        drained = runtime.worker.drain(timeout=max(600.0, 4 * shipments / (RATE * rate_scale)), only="tasks")
        wall = time.monotonic() - started
        confirmed_calls = Counter(counter.calls) - recorded
        log = [r for r in runtime.simulator.request_log() if r.operation == "confirmShipment"]

        # 3. Amazon's ORDER_CHANGE for each confirmation comes back through the intake.
        intake = next(b for b in runtime.worker.queues if b.name == "intake")
        intake.handler = counter.wrap(intake.handler, "intake")
        before_intake = Counter(counter.calls)
        runtime.worker.drain(timeout=600.0, only="intake")
        intake_calls = Counter(counter.calls) - before_intake
    finally:
        counter.uninstall()

    accepted = sorted(r.time for r in log if 200 <= r.status < 300 or r.status == 0)
    throttled = sum(1 for r in log if r.status == 429)
    bound = (shipments - BURST) / (RATE * rate_scale)
    span = accepted[-1] - accepted[0] if len(accepted) > 1 else None
    ratio = span / bound if span else None
    packages = Counter((c["orderId"], c["packageDetail"]["packageReferenceId"])
                       for c in runtime.simulator.orders.confirmations)
    duplicates = sum(count - 1 for count in packages.values() if count > 1)
    states: Counter[str] = Counter()
    for raw in raw_orders:
        current = flow.shipments().get(raw["orderId"])
        states.update(s.state.value for s in (current.shipments if current else ()))
    dropped = sum(1 for r in log if r.status == 0)
    per_shipment = {phase: round(sum(calls.values()) / shipments, 2)
                    for phase, calls in (("record", recorded), ("confirm", confirmed_calls), ("intake", intake_calls))}
    cost = sum(price_requests(calls, EARLIER) for calls in (recorded, confirmed_calls, intake_calls)) / shipments * 1000
    ok = (drained and ratio is not None and ratio <= TARGET_RATIO and throttled <= TARGET_429_SHARE * len(log)
          and duplicates == 0 and states.get(ShipmentState.CONFIRMED.value) == shipments)
    summary = (f"[shipments] {shipments} confirmations at {RATE * rate_scale:g}/s (scale {rate_scale:g}): "
               f"{ratio:.3f}x the bound ({span:.1f} s vs {bound:.1f} s), {throttled} of {len(log)} calls 429, "
               f"{dropped} applied then timed out, {duplicates} duplicate packages, "
               f"{states.get('confirmed', 0)} confirmed; AWS requests per shipment {sum(per_shipment.values()):.2f} "
               f"({per_shipment}), ${cost:.4f} per 1,000 shipments  {verdict(ok)}") if ratio else \
        f"[shipments] did not drain  {verdict(False)}"
    say(summary)
    return {"summary": summary, "figure": round(ratio, 3) if ratio else None,
            "unit": "confirmShipment span / limit bound (0 duplicate packages, 5% applied then timed out)",
            "target": "<= 1.15, 429 share < 1%, 0 duplicates", "pass": ok,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "shipments": shipments,
            "rate_scale": rate_scale, "drained": drained,
            "wall_seconds": round(wall, 1), "span_seconds": round(span, 2) if span else None,
            "bound_seconds": round(bound, 2), "ratio": round(ratio, 3) if ratio else None,
            "calls": len(log), "throttled": throttled, "applied_then_dropped": dropped, "duplicates": duplicates,
            "states": dict(states), "aws_requests_per_shipment": per_shipment,
            "aws_requests_by_operation": {"record": dict(recorded), "confirm": dict(confirmed_calls),
                                          "intake": dict(intake_calls)},
            "list_price_per_1000_shipments_usd": round(cost, 4), "ok": ok}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(*(int(a) for a in sys.argv[1:2])), indent=2))
