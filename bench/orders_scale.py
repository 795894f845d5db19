"""Orders at scale: (1) one seller's day against Amazon's limits (bench/orders_model.py: the
code's own rules and limiter arithmetic, time modelled): the sustained rate, the waits, the
backlog, and the ceiling in orders a day, before and after; (2) on the embedded stack, the
whole life of real orders (four ORDER_CHANGE notifications each, Amazon's order moved before
each, details, buyer data, merchant stock), every AWS request counted from botocore, DynamoDB's
request units worked out as it bills them (bench/capacity.py), priced at eu-west-1 list prices
per million orders.
"""
from __future__ import annotations

import copy
import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.capacity import CapacityMeter
from bench.common import EARLIER, PRICES, ApiCallCounter, list_price, say, start_runtime, verdict

SELLER, MARKETPLACE = "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"
TARGET_PER_MILLION = 15.0
TARGET_RATE = 50_000
CATALOGUE = 500  # SKUs the orders are drawn from
# Seconds a request takes, for the Lambda duration billed (moto answers in the process, slower
# than DynamoDB; the simulator faster than Amazon): a DynamoDB or SQS request from a function in
# its region (single-digit milliseconds: 10 is generous), and an SP-API or Login with Amazon
# request (assumed: a few hundred milliseconds).
LATENCY = (0.010, 0.300)
PHASES = (("PENDING", 0), ("UNSHIPPED", 5), ("PARTIALLY_SHIPPED", 120), ("SHIPPED", 240))  # minutes after placing


def _order_at(base: dict[str, Any], status: str, channel: str, at: datetime) -> dict[str, Any]:
    """Amazon's order (getOrder's example) as it is at `status`: parcels as it ships."""
    from infra.local.amazon.core import format_time

    order = copy.deepcopy(base)
    order["lastUpdatedTime"] = format_time(at)
    order["fulfillment"].update(fulfillmentStatus=status, fulfilledBy="AMAZON" if channel == "AFN" else "MERCHANT")
    items = order["orderItems"]
    shipped = {"PENDING": 0, "UNSHIPPED": 0, "PARTIALLY_SHIPPED": 1, "SHIPPED": 2}[status]
    order["packages"] = []
    for item in items:
        quantity = int(item["quantityOrdered"])
        done = min(quantity, shipped if len(items) == 1 else (quantity if shipped == 2 else 0))
        item["fulfillment"] = {"quantityFulfilled": done, "quantityUnfulfilled": quantity - done}
    for parcel in range(1, shipped + 1):
        order["packages"].append({
            "packageReferenceId": str(parcel), "createdTime": format_time(at),
            "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"}, "carrier": "DHL",
            "shipTime": format_time(at), "trackingNumber": f"JJD00{parcel}",
            "packageItems": [{"orderItemId": str(items[0]["orderItemId"]), "quantity": 1}]})
    return order


def _world() -> dict[str, Any]:
    """The one seller every orders bench runs, with no orders yet."""
    return {"applicationId": "amzn1.sellerapps.app.bench", "orders": [],
            "sellers": [{"sellerId": SELLER, "marketplaceIds": [MARKETPLACE], "refreshToken": "Atzr|bench"}]}


def _order_base(order_id: str, placed: datetime) -> dict[str, Any]:
    """Amazon's unshipped example as one of the bench seller's orders placed at `placed`, to be
    delivered in two to four days (the example's window is past: its buyer data would not be kept)."""
    from infra.local.amazon.core import format_time
    from infra.local.amazon.orders import unshipped_example

    base = unshipped_example(order_id, placed)
    base["salesChannel"]["marketplaceId"] = MARKETPLACE
    base["fulfillment"]["deliverByWindow"] = {"earliestDateTime": format_time(placed + timedelta(days=2)),
                                              "latestDateTime": format_time(placed + timedelta(days=4))}
    return base


def cost(orders: int = 200, seed: int = 3) -> dict[str, Any]:
    from chalicelib.core.function import running
    from chalicelib.flows.orders import service
    from chalicelib.flows.orders import wiring as orders_wiring
    from infra.local import moto_speedups
    from infra.local.amazon.orders import order_change_payload

    moto_speedups.apply()
    runtime = start_runtime(_world(), rate_scale=200.0)
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=5)
    lives = []
    for i in range(orders):
        order_id = f"305-{i:07d}-{seed:07d}"
        base = _order_base(order_id, start)
        for item in base["orderItems"]:  # a catalogue, not every order on one SKU (its balance would hold them all)
            item["product"]["sellerSku"] = f"SKU-{rng.randrange(CATALOGUE):04d}"
        lives.append((order_id, base, "AFN" if rng.random() < 0.7 else "MFN"))
    counter = ApiCallCounter(CapacityMeter()).install()
    counter.wrap_queues(runtime)
    batches_before = runtime.worker.stats["batches"]
    service.DETAILS_READ.clear()
    try:
        started = time.monotonic()
        for status, minutes in PHASES:
            at = start + timedelta(minutes=minutes)
            for _order_id, base, channel in lives:
                raw = _order_at(base, status, channel, at)
                runtime.simulator.upsert_order(SELLER, raw)
                runtime.simulator.notifications.push(SELLER, "ORDER_CHANGE", order_change_payload(SELLER, raw, at))
            if not runtime.worker.drain(timeout=900.0):
                raise RuntimeError(f"the queues did not drain after the {status} changes")
        wall = time.monotonic() - started
    finally:
        counter.uninstall()
    invocations = runtime.worker.stats["batches"] - batches_before
    with running("tasks"):  # the function that may open buyer data
        complete = sum(1 for order_id, _, channel in lives
                       if (found := orders_wiring.orders().get(order_id)) is not None
                       and found[1] is not None and found[0].details is not None
                       and orders_wiring.buyer_data().get(order_id) is not None)
    runtime.stop()
    calls = Counter(counter.calls)
    # The Lambda service's own SQS calls (receive and delete, batches of ten) for every message.
    messages = sum(count for name, count in calls.items() if name == "sqs:SendMessageBatch") * 10
    sqs_service = (orders * len(PHASES) + messages) / 10 * 2

    def per_million(prices: dict[str, float], **kwargs: Any) -> float:
        dollars = list_price(counter, prices, invocations, **{"latency": LATENCY, **kwargs})
        if "only" not in kwargs:
            dollars += sqs_service * prices["sqs"]
        return round(dollars / orders * 1_000_000, 2)

    meter = counter.meter
    return {"orders": orders, "complete": complete, "wall_seconds": round(wall, 1),
            "details_read": dict(service.DETAILS_READ),
            "aws_requests_per_order": round(sum(calls.values()) / orders, 2),
            "per_order_by_operation": {k: round(v / orders, 2) for k, v in calls.most_common()},
            "per_order_by_target": {k: round(v / orders, 2) for k, v in counter.by_target.most_common()},
            "write_units_per_order": round(meter.write_units / orders, 2),
            "read_units_per_order": round(meter.read_units / orders, 2),
            "write_units_per_order_by_table": {k: round(v / orders, 2) for k, v in meter.wru.most_common()},
            "lambda_invocations_per_order": round(invocations / orders, 2),
            "lambda_ms_per_order": round(counter.billed_seconds(LATENCY) / orders * 1000, 1),
            "lambda_ms_per_order_measured": round(counter.handler_seconds / orders * 1000, 1),
            "of_it_in_aws_calls_ms": round(counter.call_seconds / orders * 1000, 1),
            "of_it_waiting_on_amazon_ms": round(counter.amazon_seconds / orders * 1000, 1),
            "lambda_gb_ms_per_order_by_function": {
                name: round(counter.billed_gb_seconds(LATENCY, name) / orders * 1000, 1)
                for name in sorted({i[0] for i in counter.invocations})},
            "amazon_requests_per_order": round(counter.amazon_calls / orders, 2),
            "list_price_per_million_orders_usd": per_million(PRICES),
            "with_the_measured_durations_usd": per_million(PRICES, latency=None),
            "at_the_earlier_dynamodb_prices_usd": per_million(EARLIER),
            "counted_per_request_at_the_earlier_prices_usd": per_million(EARLIER, units=False),  # as first measured
            "of_it_the_invoices_flow_usd": per_million(PRICES, only=lambda target: "-invoices" in target)}


def run(orders: int = 200) -> dict[str, Any]:
    from bench.orders_model import figures

    model = figures(rate=TARGET_RATE, hours=24.0)
    sustained = model["sustained"]
    priced = cost(orders)
    ok = sustained["keeps_up"] and priced["list_price_per_million_orders_usd"] <= TARGET_PER_MILLION \
        and priced["complete"] == orders
    ceilings = ", ".join(f"{k}: {v:,}" for k, v in model["ceiling_orders_per_day"].items())
    summary = (f"[scale] {TARGET_RATE:,} orders/day: max wait {sustained['max_wait_seconds']} s, backlog at end "
               f"{sustained['backlog_at_end']}, reads {sustained['reads']} (keeps up: {sustained['keeps_up']}); "
               f"ceiling in orders/day {ceilings}; lifecycle cost ${priced['list_price_per_million_orders_usd']:.2f} "
               f"per million orders (target <= ${TARGET_PER_MILLION:g}; "
               f"${priced['at_the_earlier_dynamodb_prices_usd']:.2f} at the earlier DynamoDB prices), "
               f"{priced['aws_requests_per_order']} AWS requests, {priced['write_units_per_order']} write units and "
               f"{priced['read_units_per_order']} read units per order, {priced['complete']}/{orders} orders complete  "
               f"{verdict(ok)}")
    say(summary)
    return {"summary": summary, "figure": priced["list_price_per_million_orders_usd"],
            "unit": "USD per million orders (AWS list prices, eu-west-1)",
            "target": f"<= {TARGET_PER_MILLION:g}; {TARGET_RATE:,}/day kept up", "pass": ok,
            "model": model, "cost": priced}
