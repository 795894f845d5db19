"""The demo's warehouse: it ships the unshipped merchant orders through the HTTPS API, as a
seller's warehouse system would (POST /orders/{orderId}/shipments with its bearer token).

Most orders leave in one package; an order of several units leaves in two; one package is keyed
with a wrong quantity (the API refuses it with the reason, nothing is recorded, and the
warehouse sends the right one); one order leaves after its ship-by date (Amazon takes a late
confirmation; it counts against the seller's Late Shipment Rate).
"""
from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CARRIERS = ("DHL", "UPS", "Royal Mail", "Deutsche Post", "Colissimo")


@dataclass
class Shipped:
    recorded: list[str] = field(default_factory=list)  # shipment ids
    refused: list[tuple[str, str]] = field(default_factory=list)  # (order id, the API's message)
    split: int = 0
    late: list[str] = field(default_factory=list)


def call(api: str, token: str, method: str, path: str, body: Any = None,
          key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(api + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def call_text(api: str, token: str, method: str, path: str, text: str | None = None,
              content_type: str = "text/plain") -> tuple[int, str]:
    """A request whose body or answer is a file (an upload, an export), as text."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    request = urllib.request.Request(api + path, data=text.encode() if text is not None else None, headers=headers,
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")


def ship(api: str, token: str, order_ids: list[str], seed: int = 7) -> Shipped:
    rng = random.Random(seed)
    done = Shipped()
    now = datetime.now(UTC)
    for position, order_id in enumerate(order_ids):
        status, order = call(api, token, "GET", f"/orders/{order_id}")
        if status != 200 or not order.get("items"):
            continue
        latest: str | None = (order.get("shipBy") or {}).get("latest")
        late = position == 1 and latest is not None
        shipped_at = now - timedelta(minutes=rng.randint(5, 120))
        if late and latest is not None:
            ship_by = datetime.fromisoformat(latest.replace("Z", "+00:00"))
            shipped_at = min(max(ship_by + timedelta(hours=3), shipped_at), now - timedelta(minutes=1))
            late = shipped_at > ship_by
        lines = [{"orderItemId": item["orderItemId"], "quantity": item["quantity"] - item.get("quantityShipped", 0)}
                 for item in order["items"] if item["quantity"] > item.get("quantityShipped", 0)]
        if not lines:
            continue
        packages = [lines]
        units = sum(line["quantity"] for line in lines)
        if units >= 2 and len(done.recorded) % 4 == 1:  # two parcels: the first unit apart
            first = dict(lines[0], quantity=1)
            rest = [dict(lines[0], quantity=lines[0]["quantity"] - 1)] + lines[1:]
            packages = [[first], [line for line in rest if line["quantity"] > 0]]
            done.split += 1
        carrier = rng.choice(CARRIERS)
        if position == 0:  # keyed wrong: one unit too many
            wrong = [dict(lines[0], quantity=lines[0]["quantity"] + 1)] + lines[1:]
            status, answer = call(api, token, "POST", f"/orders/{order_id}/shipments",
                                   _body(carrier, wrong, shipped_at, rng), key=f"wms-{order_id}-wrong")
            if status != 200:
                done.refused.append((order_id, answer.get("message", "")))
        for number, package in enumerate(packages, 1):
            status, answer = call(api, token, "POST", f"/orders/{order_id}/shipments",
                                   _body(carrier, package, shipped_at, rng), key=f"wms-{order_id}-{number}")
            if status == 200:
                done.recorded.append(answer["shipmentId"])
                if late and number == 1:
                    done.late.append(order_id)
            else:
                done.refused.append((order_id, answer.get("message", "")))
    return done


def _body(carrier: str, lines: list[dict[str, Any]], shipped_at: datetime, rng: random.Random) -> dict[str, Any]:
    return {"carrierCode": carrier, "trackingNumber": f"{rng.randint(10**17, 10**18 - 1)}",
            "shipDate": shipped_at.strftime("%Y-%m-%dT%H:%M:%SZ"), "shippingMethod": "Standard", "items": lines}
