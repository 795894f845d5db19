"""The orders flow's HTTPS views: validate parameters, shape orders for people and programs."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from chalicelib.core import http
from chalicelib.core.auth import principal, served_sellers
from chalicelib.core.http import BadRequest, NotFound, date_time, only, query, whole_number
from chalicelib.core.times import iso, now
from chalicelib.flows.orders.rules import Order, OrderStatus


def _iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


# An item's money, once getOrder has told it: response field → LineMoney attribute.
_ITEM_MONEY = {"unitPrice": "unit_price", "itemPrice": "item", "shipping": "shipping", "discount": "discount",
               "tax": "tax", "itemTax": "item_tax", "shippingTax": "shipping_tax", "total": "total"}


def _money(line: Any, attribute: str) -> dict[str, str] | None:
    value = getattr(line, attribute) if line is not None else None
    return value.to_dict() if value is not None else None


def order_view(order: Order) -> dict[str, Any]:
    details = order.details
    money_by_line = {line_money.order_item_id: line_money for line_money in details.lines} if details else {}
    items = []
    for line in order.lines or ():
        money = money_by_line.get(line.order_item_id)
        item: dict[str, Any] = {
            "orderItemId": line.order_item_id, "sku": line.sku, "quantity": line.quantity,
            "quantityShipped": line.quantity_shipped,
            "asin": money.asin if money else None, "title": money.title if money else None,
            **{name: _money(money, attribute) for name, attribute in _ITEM_MONEY.items()},
            "promotionIds": list(money.promotion_ids) if money else [],
        }
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
        "amazonUpdatedAt": _amazon_updated_at(order),
        "storedAt": iso(order.updated_at),
        "items": items,
        "timeline": [{"status": e.status.value, "at": iso(e.at), "source": e.source,
                      "notificationId": e.notification_id}
                     for e in order.timeline],
        "packages": [],
        "money": None,
        "detailsAsOf": None,
        "attention": ({"reason": order.attention.reason, "since": iso(order.attention.since)}
                      if order.attention else None),
        "invoice": None,  # GET /orders/{id} fills it (the invoices flow); lists leave it out
        "payment": None,  # GET /orders/{id} fills it (the settlements flow): was it paid?
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
        "amazonUpdatedAt": _amazon_updated_at(order), "storedAt": iso(order.updated_at),
        "grandTotal": order.details.grand_total.to_dict() if order.details and order.details.grand_total else None,
    }


def _amazon_updated_at(order: Order) -> str:
    """When Amazon last changed the order, as far as we know: the time of the last change applied
    (TimeOfOrderChange, or getOrder's lastUpdatedTime)."""
    return order.change_key.split("#", 1)[0]


LIST_PARAMETERS = {"sellerId", "status", "marketplaceId", "storedSince", "amazonUpdatedSince", "limit", "nextToken"}
_MARKETPLACE_ID = re.compile(r"[A-Z0-9]{10,14}")


def parse_list_params(params: dict[str, str] | None, sellers: list[str]) -> dict[str, Any]:
    """The query of GET /orders, checked; `sellers` are those the deployment serves and the
    caller may see (another is a 404 either way: a token limited to some sellers cannot tell
    which others exist)."""
    params = params or {}
    if "updatedSince" in params:
        raise BadRequest("updatedSince is gone, it did not say whose time it was: use storedSince (when sellerops "
                         "stored the order) or amazonUpdatedSince (when Amazon last changed it)")
    only(params, LIST_PARAMETERS)
    seller = http.seller_id(params, "GET /orders lists one seller's orders", sellers)
    status = None
    if "status" in params:
        try:
            status = OrderStatus(params["status"])  # exactly as the API writes it
        except ValueError:
            raise BadRequest(f"status must be one of {', '.join(s.value for s in OrderStatus)}") from None
    marketplace_id = params.get("marketplaceId")
    if marketplace_id is not None and not _MARKETPLACE_ID.fullmatch(marketplace_id):
        raise BadRequest("marketplaceId must be 10 to 14 capital letters and digits, like A1PA6795UKMFR9")
    return {"seller_id": seller, "status": status, "marketplace_id": marketplace_id,
            "stored_since": date_time(params, "storedSince"),
            "amazon_updated_since": date_time(params, "amazonUpdatedSince"),
            "limit": whole_number(params, "limit", 50, 1, 100)}


# --- the routes' views ----------------------------------------------------------------------

def get_order(request: Any, order_id: str) -> dict[str, Any]:
    from chalicelib.flows.orders import wiring

    order_id = http.order_id(order_id)
    found = wiring.orders().get(order_id)
    if found is None or not principal(request).may_see(found[0].seller_id):
        raise NotFound(f"no order {order_id} has been received")
    from chalicelib.flows.invoices.views import invoicing_of  # its documents, from their flow
    from chalicelib.flows.settlements.views import payments_of  # what Amazon paid, from their flow
    from chalicelib.flows.shipments.views import shipments_of  # the warehouse's packages, from their flow

    return {**order_view(found[0]), "shipments": shipments_of(order_id),
            "invoice": invoicing_of(order_id, found[0].seller_id),
            "payment": payments_of(order_id, found[0].seller_id)}


def list_orders(request: Any) -> dict[str, Any]:
    from chalicelib.core import pages
    from chalicelib.flows.orders import wiring

    params = query(request)
    query_ = parse_list_params(params, served_sellers(request))
    # A token names a place in the list index: one from before it (a former index's key) is refused.
    bound_to = {"route": "list_orders", "index": "by_seller_listed",
                **{k: v for k, v in query_.items() if k != "limit"}}
    start = pages.open_(params.get("nextToken"), bound_to)
    orders, last_key = wiring.orders().list(**query_, start=start)
    return {"orders": [summary_view(o) for o in orders], "nextToken": pages.seal(last_key, bound_to)}


def seller_backlog(request: Any, seller_id: str) -> dict[str, Any]:
    """The seller's orders waiting for their details (service.backlogs): what /health sums over
    every seller, for one the token may see."""
    from chalicelib.core import wiring as core_wiring
    from chalicelib.flows.orders import service
    from chalicelib.flows.orders.rules import BACKLOG_ALERT_SECONDS

    if seller_id not in served_sellers(request):
        raise NotFound(f"no seller {seller_id} is served by this deployment")
    moment = now()
    backlog = service.backlogs(core_wiring.state(), core_wiring.limiter(), moment, only=seller_id)[seller_id]
    return {"sellerId": seller_id, "detailsQueued": backlog.get_order_queued,
            "oldestWaitSeconds": round(backlog.oldest_wait_seconds), "searching": backlog.searching,
            "alertAfterSeconds": BACKLOG_ALERT_SECONDS, "time": iso(moment)}
