"""The fulfillment flow's HTTPS views."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalice import Response

from chalicelib.core import fields, http
from chalicelib.core.auth import principal, served_sellers
from chalicelib.core.http import BadRequest, Conflict, NotFound, only, query
from chalicelib.core.times import iso_seconds, now
from chalicelib.flows.fulfillment import rules
from chalicelib.flows.fulfillment.rules import FulfillmentOrder, FulfillmentRequest, Item


def _time(moment: datetime | None) -> str | None:
    return iso_seconds(moment) if moment is not None else None


def order_view(o: FulfillmentOrder) -> dict[str, Any]:
    snap = dict(o.snapshot)
    return {
        "sellerFulfillmentOrderId": o.fulfillment_order_id, "sellerId": o.seller_id,
        "marketplaceId": o.marketplace_id or snap.get("marketplaceId"),
        "displayableOrderId": o.displayable_order_id or snap.get("displayableOrderId"),
        "shippingSpeedCategory": o.speed or snap.get("shippingSpeedCategory"),
        "state": o.state.value, "amazonStatus": o.amazon_status, "statusUpdatedAt": _time(o.status_updated_at),
        "requestedAt": _time(o.requested_at), "origin": "sellerops" if o.fingerprint else "amazon",
        "cancellable": o.cancellable, "cancelRequestedAt": _time(o.cancel_requested_at),
        "amazonAnswer": o.amazon_answer,
        "items": snap.get("items") or [{"itemId": i.item_id, "sku": i.sku, "quantity": i.quantity, "cancelled": 0,
                                        "unfulfillable": 0, "estimatedShipDate": None} for i in o.items],
        "shipments": snap.get("shipments") or [], "returns": snap.get("returns") or [],
    }


def _request(body: dict[str, Any]) -> FulfillmentRequest:
    date = fields.moment(body["displayableOrderDate"], "displayableOrderDate", required=True)
    assert date is not None  # required
    if date > now() + timedelta(minutes=10):
        raise Conflict("displayableOrderDate is in the future: it is when the customer ordered")
    items, seen = [], set()
    for index, item in enumerate(body["items"]):
        item_id = item.get("sellerFulfillmentOrderItemId") or f"{index + 1}"
        if item_id in seen:
            raise BadRequest(f"items[{index}]: sellerFulfillmentOrderItemId {item_id} is used twice")
        seen.add(item_id)
        items.append(Item(item_id, item["sellerSku"], item["quantity"]))
    return FulfillmentRequest(
        body["sellerFulfillmentOrderId"], body["sellerId"], body["marketplaceId"], body["displayableOrderId"],
        date.astimezone(UTC), body.get("displayableOrderComment") or f"Order {body['displayableOrderId']}",
        body.get("shippingSpeedCategory") or "Standard", body.get("fulfillmentPolicy") or "FillOrKill",
        tuple(items), {k: v for k, v in body["destinationAddress"].items() if v})


def create(request: Any, body: dict[str, Any]) -> Response:
    from chalicelib.core import wiring as core
    from chalicelib.flows.fulfillment import service, wiring

    wanted = _request(body)
    who = principal(request)
    served = {s["seller_id"]: s.get("marketplace_ids") or [] for s in core.state().sellers()}
    if wanted.seller_id not in served or not who.may_see(wanted.seller_id):
        raise NotFound(f"no seller {wanted.seller_id} is served by this deployment")
    if served[wanted.seller_id] and wanted.marketplace_id not in served[wanted.seller_id]:
        raise Conflict(f"seller {wanted.seller_id} sells on {', '.join(sorted(served[wanted.seller_id]))}, not on "
                         f"marketplace {wanted.marketplace_id}")
    try:
        order, new = service.request_fulfillment(wiring.request_ports(), wanted, now())
    except rules.Refused as refused:
        raise (BadRequest if refused.status == 400 else Conflict)(refused.message) from None
    core.task_queue().flush()  # if this fails, the same request again queues it
    return Response(body=order_view(order), status_code=201 if new else 200,
                    headers={"Content-Type": "application/json"})


def _found(request: Any, fulfillment_order_id: str) -> FulfillmentOrder:
    """The order of `sellerId` (a query parameter, needed when the caller may see several
    sellers: Amazon's ids are unique per seller only)."""
    from chalicelib.flows.fulfillment import wiring

    params = query(request)
    only(params, {"sellerId"})
    if not rules.is_id(fulfillment_order_id):
        raise BadRequest("sellerFulfillmentOrderId must be 1–40 letters, digits, '-', '_' or '.'")
    visible = served_sellers(request)
    if "sellerId" not in params and len(visible) == 1:
        seller_id = visible[0]
    else:
        seller_id = http.seller_id(params, "name the seller of the fulfillment order (?sellerId=)", visible)
    order = wiring.orders().get(seller_id, fulfillment_order_id)
    if order is None:
        raise NotFound(f"no fulfillment order {fulfillment_order_id} of seller {seller_id} is known")
    return order


def get(request: Any, fulfillment_order_id: str) -> dict[str, Any]:
    return order_view(_found(request, fulfillment_order_id))


def cancel(request: Any, fulfillment_order_id: str) -> dict[str, Any]:
    from chalicelib.core import wiring as core
    from chalicelib.flows.fulfillment import service, wiring

    order = _found(request, fulfillment_order_id)
    try:
        cancelling = service.request_cancel(wiring.request_ports(), order.seller_id, order.fulfillment_order_id,
                                            now())
    except rules.Refused as refused:
        raise Conflict(refused.message) from None
    core.task_queue().flush()
    return order_view(cancelling)
