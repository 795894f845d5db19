"""The Orders API: v2026-01-01 (searchOrders, getOrder with includedData) over the world's orders,
and v0's confirmShipment, which adds a package to a merchant-fulfilled order, moves its status
(PARTIALLY_SHIPPED, SHIPPED) and pushes the ORDER_CHANGE Amazon would push.

A world's `orders` are `[{"sellerId", "order": <Order v2026-01-01>}]`, each as getOrder with every
`includedData` returns it now.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import (
    Api,
    Caller,
    InvalidInput,
    Reply,
    errors,
    format_time,
    integer_default,
    load_model,
    model_operations,
    one,
    parse_time,
)

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "orders_2026-01-01.json"
V0_MODEL = "ordersV0.json"
PAGINATION_TOKEN_LIFETIME = 24 * 3600  # seconds, per the searchOrders model

# Which Order / OrderItem fields each includedData value unlocks. The model names the datasets
# but not their fields; this follows each dataset's description there ("... for the order and
# order items"). Fields not listed here (ids, times, programs, salesChannel, items' product...)
# are always returned.
DATASETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # dataset: (order fields, order item fields)
    "BUYER": (("buyer",), ()),
    "RECIPIENT": (("recipient",), ()),
    "PROCEEDS": (("proceeds",), ("proceeds",)),
    "EXPENSE": ((), ("expense",)),
    "PROMOTION": ((), ("promotion",)),
    "CANCELLATION": ((), ("cancellation",)),
    "FULFILLMENT": (("fulfillment",), ("fulfillment",)),
    "PACKAGES": (("packages",), ()),
    "TAX": (("tax",), ("tax",)),
    "PAYMENT": (("payment",), ()),
    "FULFILLMENT_ORDERS": (("fulfillmentOrders",), ()),
}

# ORDER_CHANGE speaks the Orders API v0 words.
V0_STATUS = {"PENDING": "Pending", "PENDING_AVAILABILITY": "PendingAvailability", "UNSHIPPED": "Unshipped",
             "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
             "UNFULFILLABLE": "Unfulfillable"}


@functools.cache
def unshipped_example(order_id: str, created: datetime | None = None) -> dict[str, Any]:
    """The example order of Amazon's getOrder model as an unshipped merchant order, nothing of
    it shipped yet (what tests and benchmarks confirm shipments against); `created` moves its
    creation and last update to that time."""
    model = load_model(MODEL)
    order = copy.deepcopy(model["paths"]["/orders/2026-01-01/orders/{orderId}"]["get"]["responses"]["200"]
                          ["examples"]["application/json"]["order"])
    order.update(orderId=order_id, lastUpdatedTime="2024-12-25T16:30:00Z")
    if created is not None:
        order.update(createdTime=format_time(created), lastUpdatedTime=format_time(created))
    order["fulfillment"].update(fulfillmentStatus="UNSHIPPED", fulfilledBy="MERCHANT")
    order.pop("packages", None)
    for item in order["orderItems"]:
        item["fulfillment"] = {"quantityFulfilled": 0, "quantityUnfulfilled": item["quantityOrdered"]}
    return order


def required_order_fields() -> tuple[str, ...]:
    return tuple(load_model(MODEL)["definitions"]["Order"]["required"])


@functools.cache
def default_page_size() -> int:
    for operation in model_operations(MODEL):
        for spec in operation.parameters:
            if operation.operation_id == "searchOrders" and spec["name"] == "maxResultsPerPage":
                return integer_default(spec) or 100
    raise LookupError("the model has no searchOrders maxResultsPerPage")


def shape_order(order: Mapping[str, Any], included: Iterable[str]) -> dict[str, Any]:
    """The order as Amazon returns it: datasets not asked for are left out."""
    shaped = copy.deepcopy(dict(order))
    wanted = set(included)
    for dataset, (order_fields, item_fields) in DATASETS.items():
        if dataset in wanted:
            continue
        for name in order_fields:
            shaped.pop(name, None)
        for item in shaped.get("orderItems", []):
            for name in item_fields:
                item.pop(name, None)
    return shaped


@dataclass
class StoredOrder:
    seller_id: str
    order: dict[str, Any]
    created: datetime
    updated: datetime

    @classmethod
    def of(cls, seller_id: str, order: Mapping[str, Any]) -> StoredOrder:
        if not seller_id:
            raise ValueError("an order needs a sellerId")
        missing = [name for name in required_order_fields() if name not in order]
        if missing:
            raise ValueError(f"order {order.get('orderId')!r} lacks {', '.join(missing)}")
        return cls(seller_id=seller_id, order=copy.deepcopy(dict(order)),
                   created=parse_time(order["createdTime"]), updated=parse_time(order["lastUpdatedTime"]))


class OrdersApi(Api):
    name = "orders"
    models = (MODEL, V0_MODEL)

    def __init__(self, simulator: Simulator, search_lag_seconds: float = 120.0) -> None:
        super().__init__(simulator)
        self.search_lag = timedelta(seconds=search_lag_seconds)
        self.orders: dict[str, StoredOrder] = {}
        self.confirmations: list[dict[str, Any]] = []

    def load_world(self, world: Mapping[str, Any]) -> None:
        orders = {}
        for entry in world.get("orders", []):
            stored = StoredOrder.of(entry.get("sellerId", ""), entry["order"])
            orders[stored.order["orderId"]] = stored
        self.orders = orders

    def order_of(self, seller_id: str, order_id: str) -> dict[str, Any] | None:
        """The seller's order as Amazon holds it now, or None (another seller's is None too)."""
        stored = self.orders.get(order_id)
        return stored.order if stored is not None and stored.seller_id == seller_id else None

    def upsert(self, seller_id: str, order: Mapping[str, Any]) -> None:
        stored = StoredOrder.of(seller_id, order)
        self.orders[stored.order["orderId"]] = stored

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"searchOrders": self._search_orders, "getOrder": self._get_order,
                "confirmShipment": self._confirm_shipment}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"orders": self._view_orders, "packages": self._view_packages}

    # --- views --------------------------------------------------------------------------------

    def _view_orders(self, query: Mapping[str, list[str]]) -> Any:
        """Amazon's orders, without buyer data: id, seller, status, last update (?sellerId=)."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            found = [{"orderId": order_id, "sellerId": s.seller_id,
                      "status": (s.order.get("fulfillment") or {}).get("fulfillmentStatus"),
                      "fulfilledBy": (s.order.get("fulfillment") or {}).get("fulfilledBy"),
                      "lastUpdatedTime": s.order.get("lastUpdatedTime")}
                     for order_id, s in sorted(self.orders.items()) if seller_id in (None, s.seller_id)]
        return {"orders": found}

    def _view_packages(self, query: Mapping[str, list[str]]) -> Any:
        """Shipments confirmed to Amazon (confirmShipment), oldest first (?orderId=&sellerId=)."""
        order_id, seller_id = one(query, "orderId"), one(query, "sellerId")
        with self.simulator.lock:
            found = [c for c in self.confirmations if order_id in (None, c["orderId"])
                     and seller_id in (None, c["sellerId"])]
        return {"packages": copy.deepcopy(found)}

    # --- v2026-01-01 ----------------------------------------------------------------------------

    def _get_order(self, caller: Caller, params: dict[str, Any]) -> Reply:
        order_id = params["orderId"]
        stored = self.orders.get(order_id)
        if stored is None or not caller.may_see(stored.seller_id):
            return Reply(404, errors("NotFound", f"Order {order_id} was not found."), "getOrder")
        return Reply(200, {"order": shape_order(stored.order, params.get("includedData", []))}, "getOrder")

    def _search_orders(self, caller: Caller, params: dict[str, Any]) -> Reply:
        window = SearchWindow.of(params, datetime.now(UTC), self.search_lag)
        filters = {
            "caller": caller.identity,
            "window": window.key(),
            "marketplaceIds": sorted(params.get("marketplaceIds", [])),
            "fulfillmentStatuses": sorted(params.get("fulfillmentStatuses", [])),
            "fulfilledBy": sorted(params.get("fulfilledBy", [])),
        }
        digest = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:24]
        cursor: tuple[datetime, str] | None = None
        if "paginationToken" in params:
            window.before, cursor = _read_pagination_token(params["paginationToken"], digest)
        page_size = params.get("maxResultsPerPage") or default_page_size()
        matching = sorted(
            ((window.time_of(stored), order_id, stored) for order_id, stored in self.orders.items()
             if caller.may_see(stored.seller_id) and window.admits(stored) and _matches_filters(stored.order, params)),
            key=lambda row: row[:2],
        )
        if cursor is not None:
            matching = [row for row in matching if row[:2] > cursor]
        page = matching[:page_size]
        included = params.get("includedData", [])
        answer: dict[str, Any] = {"orders": [shape_order(stored.order, included) for _, _, stored in page],
                                  window.bound_name: format_time(window.before)}
        if len(matching) > page_size:
            last_time, last_id, _ = page[-1]
            answer["pagination"] = {"nextToken": _write_pagination_token(digest, window.before, last_time, last_id)}
        return Reply(200, answer, "searchOrders")

    # --- v0 confirmShipment ---------------------------------------------------------------------

    def _confirm_shipment(self, caller: Caller, params: dict[str, Any]) -> Reply:
        """Amazon's rules for a shipment confirmation, as far as its documentation states them:
        the order is the seller's, merchant-fulfilled and not cancelled; each item is the
        order's, with no more units than it still has to ship; a package reference is used once
        per order. Answers 204 with no body."""
        order_id, body = params["orderId"], params["body"]
        stored = self.orders.get(order_id)
        if stored is None or not caller.may_see(stored.seller_id):
            return Reply(404, errors("NotFound", f"Order {order_id} was not found."), "confirmShipment")
        order = stored.order
        fulfillment = order.setdefault("fulfillment", {})
        detail = body["packageDetail"]
        marketplace = (order.get("salesChannel") or {}).get("marketplaceId")
        if body["marketplaceId"] != marketplace:
            raise InvalidInput(f"marketplaceId {body['marketplaceId']} is not the marketplace of order {order_id}.")
        if fulfillment.get("fulfilledBy") != "MERCHANT":
            raise InvalidInput(f"Order {order_id} is fulfilled by Amazon; "
                               "only merchant-fulfilled orders are confirmed.")
        if fulfillment.get("fulfillmentStatus") in ("CANCELLED", "PENDING", "PENDING_AVAILABILITY"):
            raise InvalidInput(f"Order {order_id} is {fulfillment.get('fulfillmentStatus')} and cannot be shipped.")
        if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
            raise InvalidInput("packageDetail.carrierName is required when carrierCode is Other.")
        reference = str(detail["packageReferenceId"])
        packages = order.setdefault("packages", [])
        if any(str(p.get("packageReferenceId")) == reference for p in packages):
            raise InvalidInput(f"A package with packageReferenceId {reference} was already confirmed for order "
                               f"{order_id}.")
        items = {str(i["orderItemId"]): i for i in order.get("orderItems", [])}
        for index, line in enumerate(detail["orderItems"]):
            item = items.get(str(line["orderItemId"]))
            if item is None:
                raise InvalidInput(f"packageDetail.orderItems[{index}].orderItemId {line['orderItemId']} is not an "
                                   f"item of order {order_id}.")
            done = (item.get("fulfillment") or {}).get("quantityFulfilled", 0)
            left = int(item.get("quantityOrdered", 0)) - int(done)
            if not 1 <= line["quantity"] <= left:
                raise InvalidInput(f"packageDetail.orderItems[{index}].quantity {line['quantity']} is more than the "
                                   f"{left} unit(s) of item {line['orderItemId']} still to ship.")
        ship_date = parse_time(detail["shipDate"])
        now = datetime.now(UTC).replace(microsecond=0)
        for line in detail["orderItems"]:
            item_fulfillment = items[str(line["orderItemId"])].setdefault("fulfillment", {})
            shipped = int(item_fulfillment.get("quantityFulfilled", 0)) + line["quantity"]
            item_fulfillment["quantityFulfilled"] = shipped
            item_fulfillment["quantityUnfulfilled"] = int(items[str(line["orderItemId"])]["quantityOrdered"]) - shipped
        packages.append({
            "packageReferenceId": reference, "createdTime": format_time(now),
            "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"},
            "carrier": detail.get("carrierName") or detail["carrierCode"], "shipTime": format_time(ship_date),
            "shippingService": detail.get("shippingMethod"), "trackingNumber": detail["trackingNumber"],
            "packageItems": [{"orderItemId": str(line["orderItemId"]), "quantity": line["quantity"]}
                             for line in detail["orderItems"]],
        })
        everything = all((i.get("fulfillment") or {}).get("quantityUnfulfilled", 1) == 0 for i in items.values())
        fulfillment["fulfillmentStatus"] = "SHIPPED" if everything else "PARTIALLY_SHIPPED"
        order["lastUpdatedTime"] = format_time(now)
        stored.updated = now
        self.confirmations.append({"orderId": order_id, "sellerId": stored.seller_id, "marketplaceId": marketplace,
                                   "confirmedAt": format_time(now), "packageDetail": copy.deepcopy(detail)})
        self.simulator.notifications.push(stored.seller_id, "ORDER_CHANGE",
                                          order_change_payload(stored.seller_id, order, now))
        return Reply(204, None, "confirmShipment")


def order_change_payload(seller_id: str, order: Mapping[str, Any], changed_at: datetime,
                         change_type: str = "OrderStatusChange") -> dict[str, Any]:
    """The ORDER_CHANGE payload Amazon pushes for an order as it is now (its Summary speaks the
    v0 status words)."""
    fulfillment = order.get("fulfillment") or {}
    ship = fulfillment.get("shipByWindow") or {}
    deliver = fulfillment.get("deliverByWindow") or {}
    stamp = changed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    items = []
    for item in order.get("orderItems", []):
        item_fulfillment = item.get("fulfillment") or {}
        items.append({"OrderItemId": str(item["orderItemId"]),
                      "SellerSKU": (item.get("product") or {}).get("sellerSku"),
                      "Quantity": int(item.get("quantityOrdered", 0)),
                      "QuantityShipped": int(item_fulfillment.get("quantityFulfilled", 0))})
    programs = order.get("programs") or []
    status = fulfillment.get("fulfillmentStatus")
    summary = {
        "MarketplaceId": (order.get("salesChannel") or {}).get("marketplaceId"),
        "OrderStatus": V0_STATUS.get(status, status) if status is not None else None,
        "PurchaseDate": order.get("createdTime"),
        "FulfillmentType": "AFN" if fulfillment.get("fulfilledBy") == "AMAZON" else "MFN",
        "OrderType": "Preorder" if "PREORDER" in programs else "StandardOrder",
        "EarliestShipDate": ship.get("earliestDateTime"), "LatestShipDate": ship.get("latestDateTime"),
        "EarliestDeliveryDate": deliver.get("earliestDateTime"), "LatestDeliveryDate": deliver.get("latestDateTime"),
        "OrderPrograms": ((["Business"] if "AMAZON_BUSINESS" in programs else [])
                          + (["Prime"] if "PRIME" in programs else [])),
        "OrderItems": items,
    }
    return {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel", "SellerId": seller_id, "AmazonOrderId": order["orderId"],
        "OrderChangeType": change_type,
        "OrderChangeTrigger": {"TimeOfOrderChange": stamp, "ChangeReason": "Order status changed"},
        "Summary": {k: v for k, v in summary.items() if v is not None},
    }}


@dataclass
class SearchWindow:
    """The time range of a searchOrders call: by creation or by last update, never both."""

    by: str  # "created" or "lastUpdated"
    after: datetime
    before: datetime
    before_given: bool

    @property
    def bound_name(self) -> str:
        return f"{self.by}Before"

    @classmethod
    def of(cls, params: Mapping[str, Any], now: datetime, lag: timedelta) -> SearchWindow:
        # These rules are the parameter descriptions of searchOrders in the model.
        created_after, updated_after = params.get("createdAfter"), params.get("lastUpdatedAfter")
        if (created_after is None) == (updated_after is None):
            raise InvalidInput("Provide exactly one of createdAfter and lastUpdatedAfter.")
        if created_after is not None:
            by, after, other = "created", created_after, "lastUpdated"
        else:
            by, after, other = "lastUpdated", updated_after, "created"
        if f"{other}Before" in params:
            raise InvalidInput(f"{other}Before cannot be combined with {by}After.")
        latest = (now - lag).replace(microsecond=0)
        too_late = (f"must be at least {lag.total_seconds():g} seconds before the time of the request "
                    f"(no later than {format_time(latest)}).")
        before = params.get(f"{by}Before")
        if before is not None and before > latest:
            raise InvalidInput(f"{by}Before {too_late}")
        if before is None and after > latest:
            raise InvalidInput(f"{by}After {too_late}")
        if before is not None and before < after:
            raise InvalidInput(f"{by}Before must be equal to or after {by}After.")
        return cls(by, after, before if before is not None else latest, before is not None)

    def key(self) -> list[str | None]:
        """What a pagination token must agree on (the default upper bound travels in it)."""
        given = format_time(self.before) if self.before_given else None
        return [self.by, self.after.isoformat(), given]

    def time_of(self, stored: StoredOrder) -> datetime:
        return stored.created if self.by == "created" else stored.updated

    def admits(self, stored: StoredOrder) -> bool:
        return self.after <= self.time_of(stored) <= self.before


def _matches_filters(order: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    fulfillment = order.get("fulfillment") or {}
    checks = (
        ("marketplaceIds", (order.get("salesChannel") or {}).get("marketplaceId")),
        ("fulfillmentStatuses", fulfillment.get("fulfillmentStatus")),
        ("fulfilledBy", fulfillment.get("fulfilledBy")),
    )
    return all(not params.get(name) or value in params[name] for name, value in checks)


def _write_pagination_token(digest: str, before: datetime, last_time: datetime, last_id: str) -> str:
    content = {
        "f": digest,  # the parameters it is good for
        "b": before.isoformat(),  # the upper bound of the first page, kept for every page
        "t": last_time.isoformat(),  # where the last page ended
        "i": last_id,
        "at": time.time(),
    }
    return base64.urlsafe_b64encode(json.dumps(content).encode()).decode().rstrip("=")


def _read_pagination_token(token: str, digest: str) -> tuple[datetime, tuple[datetime, str]]:
    try:
        content = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        issued, before = float(content["at"]), parse_time(content["b"])
        cursor = (parse_time(content["t"]), str(content["i"]))
        token_digest = content["f"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInput("paginationToken is not a token this API issued.") from None
    if time.time() - issued > PAGINATION_TOKEN_LIFETIME:
        raise InvalidInput("paginationToken has expired (tokens last 24 hours).")
    if token_digest != digest:
        raise InvalidInput("paginationToken was issued for other parameters: repeat every parameter of the "
                           "first request (only maxResultsPerPage and includedData may change).")
    return before, cursor
