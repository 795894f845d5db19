"""The orders flow's HTTPS views: validate parameters, shape orders for people and programs."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chalicelib.core.http import BadRequest, NotFound, query
from chalicelib.core.times import iso
from chalicelib.flows.orders.rules import Order, OrderStatus, UnknownStatus, to_status

# Amazon order ids: 3-7-7 digits; we accept a little wider (other channels use other shapes).
_ORDER_ID = re.compile(r"^[A-Za-z0-9-]{5,40}$")


def _iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


def order_view(order: Order) -> dict[str, Any]:
    details = order.details
    money_by_line = {line_money.order_item_id: line_money for line_money in details.lines} if details else {}
    items = []
    for line in order.lines or ():
        money = money_by_line.get(line.order_item_id)
        item: dict[str, Any] = {"orderItemId": line.order_item_id, "sku": line.sku, "quantity": line.quantity,
                "quantityShipped": line.quantity_shipped}
        if money:
            item.update({
                "asin": money.asin, "title": money.title,
                "unitPrice": money.unit_price.to_dict() if money.unit_price else None,
                "itemPrice": money.item.to_dict() if money.item else None,
                "shipping": money.shipping.to_dict() if money.shipping else None,
                "discount": money.discount.to_dict() if money.discount else None,
                "tax": money.tax.to_dict() if money.tax else None,
                "itemTax": money.item_tax.to_dict() if money.item_tax else None,
                "shippingTax": money.shipping_tax.to_dict() if money.shipping_tax else None,
                "total": money.total.to_dict() if money.total else None,
                "promotionIds": list(money.promotion_ids),
            })
        items.append(item)
    view: dict[str, Any] = {
        "orderId": order.order_id,
        "sellerId": order.seller_id,
        "marketplaceId": order.marketplace_id,
        "status": order.status.value,
        "fulfillmentChannel": order.fulfillment_channel,
        "orderType": order.order_type,
        "isBusinessOrder": order.is_business,
        "isPrime": order.is_prime,
        "purchaseDate": _iso_or_none(order.purchase_date),
        "shipBy": {"earliest": _iso_or_none(order.ship_by[0]), "latest": _iso_or_none(order.ship_by[1])},
        "deliverBy": {"earliest": _iso_or_none(order.deliver_by[0]), "latest": _iso_or_none(order.deliver_by[1])},
        "updatedAt": iso(order.updated_at),
        "items": items,
        "timeline": [{"status": e.status.value, "at": iso(e.at), "source": e.source,
                      "notificationId": e.notification_id}
                     for e in order.timeline],
        "money": None,
        "detailsAsOf": None,
        "invoice": None,  # invoicing is a later flow; the field is reserved so clients can rely on it
        "payment": None,  # settlement reconciliation, likewise
    }
    if details:
        view["money"] = {
            "currency": details.currency,
            "grandTotal": details.grand_total.to_dict() if details.grand_total else None,
            "breakdown": {kind: m.to_dict() for kind, m in sorted(details.breakdown.items())},
        }
        view["detailsAsOf"] = iso(details.as_of)
        view["packages"] = [{"carrier": p.carrier, "trackingNumber": p.tracking_number,
                             "shipTime": _iso_or_none(p.ship_time), "status": p.status} for p in details.packages]
    return view


def summary_view(order: Order) -> dict[str, Any]:
    return {
        "orderId": order.order_id, "sellerId": order.seller_id, "marketplaceId": order.marketplace_id,
        "status": order.status.value, "fulfillmentChannel": order.fulfillment_channel,
        "isBusinessOrder": order.is_business, "purchaseDate": _iso_or_none(order.purchase_date),
        "updatedAt": iso(order.updated_at),
        "grandTotal": order.details.grand_total.to_dict() if order.details and order.details.grand_total else None,
    }


def parse_list_params(params: dict[str, str] | None, sellers: list[str]) -> dict[str, Any]:
    params = params or {}
    known = {"sellerId", "status", "marketplaceId", "updatedSince", "limit", "nextToken"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadRequest(f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    seller_id = params.get("sellerId")
    if not seller_id:
        if len(sellers) == 1:
            seller_id = sellers[0]
        elif not sellers:
            raise BadRequest("sellerId is required: no seller is registered in this deployment yet")
        else:
            raise BadRequest(f"sellerId is required: this deployment serves {len(sellers)} sellers "
                             f"({', '.join(sorted(sellers))})")
    status = None
    if params.get("status"):
        try:
            status = to_status(params["status"])
        except UnknownStatus:
            raise BadRequest(f"status {params['status']!r} is not one of "
                             f"{', '.join(s.value for s in OrderStatus)}") from None
    updated_since = None
    if params.get("updatedSince"):
        try:
            updated_since = datetime.fromisoformat(params["updatedSince"])
        except ValueError:
            raise BadRequest("updatedSince must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z") from None
        if updated_since.tzinfo is None:
            raise BadRequest("updatedSince needs a time zone, e.g. 2026-11-01T00:00:00Z")
    limit = 50
    if params.get("limit"):
        try:
            limit = int(params["limit"])
        except ValueError:
            raise BadRequest("limit must be a whole number from 1 to 100") from None
        if not 1 <= limit <= 100:
            raise BadRequest("limit must be a whole number from 1 to 100")
    return {"seller_id": seller_id, "status": status, "marketplace_id": params.get("marketplaceId"),
            "updated_since": updated_since, "limit": limit, "cursor": params.get("nextToken")}


# --- the routes' views ----------------------------------------------------------------------

def get_order(request: Any, order_id: str) -> dict[str, Any]:
    from chalicelib.flows.orders import wiring

    if not _ORDER_ID.match(order_id or ""):
        raise BadRequest("orderId must be 5–40 letters, digits or hyphens, like 028-1234567-1234567")
    found = wiring.orders().get(order_id)
    if found is None:
        raise NotFound(f"no order {order_id} has been received")
    return order_view(found[0])


def list_orders(request: Any) -> dict[str, Any]:
    from chalicelib.core import wiring as core_wiring
    from chalicelib.flows.orders import wiring

    params = parse_list_params(query(request), [s["seller_id"] for s in core_wiring.state().sellers()])
    orders, cursor = wiring.orders().list(**params)
    return {"orders": [summary_view(o) for o in orders], "nextToken": cursor}
