"""The demo's web shop: it sends its orders to Amazon's warehouses through the HTTPS API
(Multi-Channel Fulfillment), as a shop system would: POST /fulfillment-orders with its bearer
token, the same request again when unsure (nothing happens twice), and a cancellation of the
last order while Amazon still allows (DELETE /fulfillment-orders/{id}?sellerId=). Follow them
with `GET /fulfillment-orders/{id}?sellerId=` until Amazon has shipped them."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.warehouse import call


@dataclass
class ShopRun:
    seller_id: str = ""
    sent: list[str] = field(default_factory=list)  # fulfillment order ids
    again: list[int] = field(default_factory=list)  # statuses of the repeated requests (200: the same order)
    cancelled: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → the order as GET shows it


def send(api: str, token: str, orders: list[dict[str, Any]]) -> ShopRun:
    run = ShopRun(orders[0]["sellerId"] if orders else "")
    for order in orders:
        key = f"shop-{order['sellerFulfillmentOrderId']}"
        status, answer = call(api, token, "POST", "/fulfillment-orders", order, key=key)
        if status in (200, 201):
            run.sent.append(answer["sellerFulfillmentOrderId"])
        else:
            run.refused.append((order["sellerFulfillmentOrderId"], answer.get("message", "")))
    if orders:  # unsure whether the first went: the same request again, without the key
        status, _ = call(api, token, "POST", "/fulfillment-orders", orders[0])
        run.again.append(status)
    return run


def cancel_last(api: str, token: str, run: ShopRun, work: Callable[[], None], seconds: float = 20) -> None:
    """Cancel the last order as soon as Amazon has it (work() lets the queues run meanwhile)."""
    if not run.sent:
        return
    last = run.sent[-1]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        work()
        _, order = call(api, token, "GET", f"/fulfillment-orders/{last}?sellerId={run.seller_id}")
        if order.get("cancellable"):
            status, answer = call(api, token, "DELETE", f"/fulfillment-orders/{last}?sellerId={run.seller_id}")
            if status == 200:
                run.cancelled.append(last)
            else:
                run.refused.append((last, answer.get("message", "")))
            return
        time.sleep(0.2)


def follow(api: str, token: str, run: ShopRun, work: Callable[[], None], seconds: float = 60) -> None:
    """Until every order has ended at Amazon (shipped or cancelled), or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        work()
        for order_id in run.sent:
            path = f"/fulfillment-orders/{order_id}?sellerId={run.seller_id}"
            _, run.final[order_id] = call(api, token, "GET", path)
        if all(o.get("amazonStatus") in ("Complete", "Cancelled") for o in run.final.values()):
            return
        time.sleep(0.5)
