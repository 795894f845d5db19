"""The shipments flow's HTTPS views."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core import fields, http
from chalicelib.core.auth import principal, served_sellers
from chalicelib.core.http import BadRequest, Conflict, NotFound, date_time, only, query, whole_number
from chalicelib.core.times import format_duration, iso_seconds, now, parse_duration
from chalicelib.flows.shipments import rules, shipby
from chalicelib.flows.shipments.rules import OrderFacts, Shipment, ShipmentRequest, ShipmentState


def _time(moment: Any) -> str | None:
    return iso_seconds(moment) if moment is not None else None


def shipment_view(s: Shipment) -> dict[str, Any]:
    return {
        "shipmentId": s.shipment_id, "orderId": s.order_id, "sellerId": s.seller_id,
        "packageReferenceId": s.package_reference_id, "carrierCode": s.carrier_code, "carrierName": s.carrier_name,
        "trackingNumber": s.tracking_number, "shipDate": _time(s.ship_date), "shippingMethod": s.shipping_method,
        "shipFromSupplySourceId": s.ship_from_supply_source_id,
        "items": [{"orderItemId": line.order_item_id, "sku": line.sku, "quantity": line.quantity} for line in s.lines],
        "recordedAt": _time(s.recorded_at),
        "confirmation": {"state": s.state.value, "answeredAt": _time(s.answered_at),
                         "amazonAnswer": s.amazon_answer, "explanation": s.explanation},
    }


def shipments_of(order_id: str) -> list[dict[str, Any]]:
    """An order's shipments, as GET /orders/{orderId} shows them."""
    from chalicelib.flows.shipments import wiring

    current = wiring.shipments().get(order_id)
    return [shipment_view(s) for s in current.shipments] if current else []


def _request(body: dict[str, Any]) -> ShipmentRequest:
    lines = []
    for index, item in enumerate(body["items"]):
        if ("orderItemId" in item) == ("sku" in item):
            raise BadRequest(f"items[{index}]: name the item by orderItemId or by sku, one of them")
        lines.append((item.get("orderItemId"), item.get("sku"), item["quantity"]))
    ship_date = fields.moment(body["shipDate"], "shipDate", required=True)  # 2026-02-30 too: a 400
    assert ship_date is not None  # required
    return ShipmentRequest(body["carrierCode"], body["trackingNumber"], ship_date, tuple(lines),
                           body.get("carrierName"), body.get("shippingMethod"), body.get("shipFromSupplySourceId"))


def record_shipment(request: Any, body: dict[str, Any], order_id: str) -> dict[str, Any]:
    from chalicelib.core import wiring as core
    from chalicelib.flows.shipments import service, wiring

    order_id = http.order_id(order_id)
    try:
        shipment = service.record_shipment(wiring.record_ports(), order_id, _request(body), now(),
                                           principal(request).may_see)
    except LookupError:
        raise NotFound(f"no order {order_id} has been received") from None
    except rules.Refused as refused:
        raise (BadRequest if refused.status == 400 else Conflict)(refused.message) from None
    # Sent now; if this fails, the shipment stays pending and the sweep queues it again.
    core.task_queue().flush()
    return shipment_view(shipment)


def import_shipments(request: Any, body: str) -> dict[str, Any]:
    from chalicelib.core import wiring as core
    from chalicelib.flows.shipments import service, wiring

    try:
        done = service.import_shipments(wiring.record_ports(), body, now(), principal(request).may_see)
    except service.ImportRefused as refused:
        problems = [p.to_dict() for p in refused.problems]
        message = f"{len(problems)} problem(s) in the file; nothing was applied: {problems[0]['message']}"
        if refused.malformed:
            raise BadRequest(message, details={"rows": problems}) from None
        raise Conflict(message, details={"rows": problems}) from None
    except rules.Refused as refused:  # an order changed between the check and the write
        raise Conflict(f"{refused.message}; the packages before it were recorded: import the file again") from None
    core.task_queue().flush()
    return done


def _order_facts(request: Any, order_id: str) -> OrderFacts:
    from chalicelib.flows.shipments import wiring

    facts = wiring.OrderRecords().facts(http.order_id(order_id))
    if facts is None or not principal(request).may_see(facts.seller_id):
        raise NotFound(f"no order {order_id} has been received")
    return facts


def list_order_shipments(request: Any, order_id: str) -> dict[str, Any]:
    from chalicelib.flows.shipments import wiring

    facts = _order_facts(request, order_id)
    current = wiring.shipments().get(facts.order_id)
    recorded = current.shipments if current else ()
    quantities = rules.shipped_quantities(facts, recorded)
    skus = {item_id: sku for item_id, sku, _, _ in facts.items}
    return {"orderId": facts.order_id,
            "items": [{"orderItemId": item_id, "sku": skus[item_id], **counts}
                      for item_id, counts in quantities.items()],
            "shipments": [shipment_view(s) for s in recorded]}


def list_shipments(request: Any) -> dict[str, Any]:
    """A seller's shipments, those of the most recently changed orders first; `status` and
    `since` filter within each page (a page may hold fewer, even none, and have a next one)."""
    from chalicelib.core import pages
    from chalicelib.flows.shipments import wiring

    params = query(request)
    only(params, {"sellerId", "status", "since", "limit", "nextToken"})
    seller_id = http.seller_id(params, "GET /shipments lists one seller's shipments", served_sellers(request))
    status = params.get("status")
    if status is not None and status not in {s.value for s in ShipmentState}:
        raise BadRequest(f"status must be one of {', '.join(s.value for s in ShipmentState)}")
    since = date_time(params, "since")
    limit = whole_number(params, "limit", 50, 1, 100)
    bound_to = {"route": "list_shipments", "seller": seller_id, "status": status, "since": params.get("since")}
    rows, last = wiring.shipments().list(seller_id, since, limit, pages.open_(params.get("nextToken"), bound_to))
    found = [s for row in rows for s in sorted(row.shipments, key=lambda s: -s.number)
             if (status is None or s.state.value == status)
             and (since is None or max(s.recorded_at, s.answered_at or s.recorded_at) >= since)]
    return {"shipments": [shipment_view(s) for s in found], "nextToken": pages.seal(last, bound_to)}


def get_shipment(request: Any, shipment_id: str) -> dict[str, Any]:
    from chalicelib.flows.shipments import wiring

    parsed = rules.parse_shipment_id(shipment_id)
    if parsed is None:
        raise BadRequest("shipmentId must be <orderId>.<number>, like 028-1234567-1234567.1")
    current = wiring.shipments().get(parsed[0])
    found = current.get(parsed[1]) if current else None
    if found is None or not principal(request).may_see(found.seller_id):
        raise NotFound(f"no shipment {shipment_id} has been recorded")
    return shipment_view(found)


def _window(params: dict[str, str]) -> timedelta:
    from chalicelib import config

    text = params.get("within")
    if text is None:
        return config.ship_by_alert_window()
    window = parse_duration(text)
    if window is None:
        raise BadRequest("within must be an ISO 8601 duration up to P30D, like PT24H, P2D or PT90M")
    if window > timedelta(days=30):
        raise Conflict(f"within {text[:20]} is longer than the alerts look ahead: at most P30D")
    return window


def list_due(request: Any) -> dict[str, Any]:
    """Merchant orders Amazon waits for whose latest ship date is within `within` or past, the
    most urgent first, with what is left to ship per item."""
    from chalicelib.core import pages
    from chalicelib.flows.shipments import wiring

    params = query(request)
    only(params, {"sellerId", "within", "limit", "nextToken"})
    seller_id = http.seller_id(params, "GET /shipments/due lists one seller's orders due to ship",
                               served_sellers(request))
    window = _window(params)
    limit = whole_number(params, "limit", 50, 1, 100)
    at = now()
    bound_to = {"route": "list_due", "seller": seller_id, "within": params.get("within")}
    due, last = wiring.due_index().due(seller_id, at + window, limit, pages.open_(params.get("nextToken"), bound_to))
    ids = [d.order_id for d in due]
    facts = wiring.OrderRecords().facts_of_many(ids)
    recorded = wiring.shipments().read_many(ids)
    found = []
    for d in due:
        order = facts.get(d.order_id)
        if order is None:
            continue
        shipments = recorded[d.order_id].shipments if d.order_id in recorded else ()
        skus = {item_id: sku for item_id, sku, _, _ in order.items}
        late = d.latest_ship_date <= at
        found.append({
            "orderId": d.order_id, "sellerId": d.seller_id, "marketplaceId": order.marketplace_id,
            "status": order.status, "latestShipDate": _time(d.latest_ship_date), "late": late,
            "shipBy": f"{shipby.span(d.latest_ship_date - at)} {'ago' if late else 'from now'}",
            "items": [{"orderItemId": item_id, "sku": skus[item_id], **counts}
                      for item_id, counts in rules.shipped_quantities(order, shipments).items()],
            "shipments": {state.value: sum(1 for s in shipments if s.state is state) for state in ShipmentState},
            "alerted": shipby.sent_for(d.alerted, d.latest_ship_date)})
    return {"asOf": _time(at), "within": params.get("within") or format_duration(window), "orders": found,
            "nextToken": pages.seal(last, bound_to)}

