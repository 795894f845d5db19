"""The Fulfillment Outbound API 2020-07-01 (Multi-Channel Fulfillment): createFulfillmentOrder,
getFulfillmentOrder and cancelFulfillmentOrder over the world's and the callers' fulfillment
orders, which move through Received → Planning → Processing → Complete on the warehouse's own
clock (an Amazon hour passes in five seconds), with the FULFILLMENT_ORDER_STATUS notifications
Amazon pushes at each step.

A world's `fulfillmentOrders` are `[{"sellerId", "request": <CreateFulfillmentOrderRequest>,
"receivedDate"?, "returns"?: [{"sellerFulfillmentOrderItemId", "quantity", "reasonCode"}]}]`:
fulfillment orders made before (from Seller Central), at the step their age gives them; returns
are received once the order is complete.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, errors, format_time, one, parse_time

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "fulfillmentOutbound_2020-07-01.json"
# When each step is reached at Amazon's warehouse, in Amazon's time since the order was received.
# The simulated warehouse runs WAREHOUSE_WARP times faster than the wall clock, whatever the rate
# scale (a demo sees an order shipped in 20 s, and may cancel it for the first 10 s).
STEPS: tuple[tuple[str, timedelta], ...] = (
    ("Received", timedelta(0)),
    ("Planning", timedelta(minutes=20)),
    ("Processing", timedelta(hours=2)),
    ("Complete", timedelta(hours=4)),
)
WAREHOUSE_WARP = 720.0
CANCELLABLE = ("Received", "Planning")
CARRIERS = ("DHL", "UPS", "Royal Mail", "DPD")


@dataclass
class FulfillmentOrder:
    seller_id: str
    request: dict[str, Any]
    received: datetime
    status: str = "Received"
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    cancelled_at: datetime | None = None
    returns: list[dict[str, Any]] = field(default_factory=list)  # to receive once complete
    returned: list[dict[str, Any]] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.request["sellerFulfillmentOrderId"])


class FulfillmentOutboundApi(Api):
    name = "fulfillment"
    models = (MODEL,)

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.orders: dict[tuple[str, str], FulfillmentOrder] = {}  # (seller, sellerFulfillmentOrderId)
        self.skew = timedelta(0)  # tests move Amazon's clock on (`advance`)

    def load_world(self, world: Mapping[str, Any]) -> None:
        orders = {}
        for entry in world.get("fulfillmentOrders", []):
            request = dict(entry["request"])
            problem = _check_request(request)
            if problem or not entry.get("sellerId"):
                raise ValueError(f"fulfillmentOrders: {problem or 'a sellerId is needed'} "
                                 f"({request.get('sellerFulfillmentOrderId')!r})")
            received = parse_time(entry["receivedDate"]) if entry.get("receivedDate") else self.now()
            order = FulfillmentOrder(entry["sellerId"], request, received, updated=received,
                                     returns=[dict(r) for r in entry.get("returns") or []])
            order.status = self._step_at(order, self.now())
            orders[(order.seller_id, order.order_id)] = order
        self.orders = orders

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"createFulfillmentOrder": self._create, "getFulfillmentOrder": self._get,
                "cancelFulfillmentOrder": self._cancel}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"fulfillment-orders": self._view}

    # --- Amazon's clock --------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.skew

    def advance(self, amount: timedelta) -> None:
        """Move Amazon's clock on (tests): the orders take the steps that time brings."""
        with self.simulator.lock:
            self.skew += amount
        self.tick()

    def _step_at(self, order: FulfillmentOrder, moment: datetime) -> str:
        if order.status in ("Cancelled", "Invalid", "Unfulfillable"):
            return order.status
        elapsed = (moment - order.received) * WAREHOUSE_WARP
        reached = [name for name, after in STEPS if elapsed >= after]
        return reached[-1] if reached else "Received"

    def tick(self) -> None:
        """Move every order to the step its age gives it, and push FULFILLMENT_ORDER_STATUS for
        each step taken, as Amazon does (called by the simulator's clock thread)."""
        with self.simulator.lock:
            moment = self.now()
            names = [name for name, _ in STEPS]
            for order in self.orders.values():
                target = self._step_at(order, moment)
                if target in names and order.status in names and names.index(target) > names.index(order.status):
                    for step in names[names.index(order.status) + 1:names.index(target) + 1]:
                        order.status, order.updated = step, moment
                        self._push(order, moment, "Shipment" if step == "Complete" else "Order")
                if order.status == "Complete" and order.returns:
                    order.returned += [self._received_return(order, r, moment) for r in order.returns]
                    order.returns = []
                    order.updated = moment
                    self._push(order, moment, "Return")

    def _received_return(self, order: FulfillmentOrder, wanted: Mapping[str, Any], moment: datetime) -> dict[str, Any]:
        return {"sellerReturnItemId": f"R{len(order.returned) + 1}-{order.order_id}"[:40],
                "sellerFulfillmentOrderItemId": str(wanted.get("sellerFulfillmentOrderItemId")),
                "amazonShipmentId": _shipment_id(order), "sellerReturnReasonCode": str(wanted.get("reasonCode") or
                                                                                       "NOT_AS_DESCRIBED"),
                "status": "Processed", "statusChangedDate": format_time(moment),
                "returnReceivedCondition": "Sellable", "fulfillmentCenterId": "LTN4"}

    def _push(self, order: FulfillmentOrder, moment: datetime, event: str) -> None:
        body: dict[str, Any] = {"SellerId": order.seller_id, "EventType": event,
                                "StatusUpdatedDateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                                "SellerFulfillmentOrderId": order.order_id,
                                "FulfillmentOrderStatus": order.status.upper()}
        if order.status == "Complete":
            packages = [{"PackageNumber": p["packageNumber"], "CarrierCode": p["carrierCode"],
                         "TrackingNumber": p["trackingNumber"]} for p in _packages(order)]
            body["FulfillmentShipment"] = {"FulfillmentShipmentStatus": "SHIPPED",
                                           "AmazonShipmentId": _shipment_id(order),
                                           "FulfillmentShipmentPackages": packages}
        if event == "Return" and order.returned:
            last = order.returned[-1]
            item: dict[str, Any] = next((i for i in order.request["items"]
                         if i["sellerFulfillmentOrderItemId"] == last["sellerFulfillmentOrderItemId"]), {})
            body["FulfillmentReturnItem"] = {"ReceivedDateTime": last["statusChangedDate"], "ReturnedQuantity": 1,
                                             "SellerSKU": item.get("sellerSku")}
        self.simulator.notifications.push(order.seller_id, "FULFILLMENT_ORDER_STATUS",
                                          {"FulfillmentOrderStatusNotification": body})

    # --- views ---------------------------------------------------------------------------------

    def _view(self, query: Mapping[str, list[str]]) -> Any:
        """Amazon's fulfillment orders, without the recipient (?sellerId=)."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            found = [{"sellerFulfillmentOrderId": o.order_id, "sellerId": o.seller_id, "status": o.status,
                      "receivedDate": format_time(o.received), "statusUpdatedDate": format_time(o.updated),
                      "items": [{k: i[k] for k in ("sellerSku", "sellerFulfillmentOrderItemId", "quantity")}
                                for i in o.request["items"]],
                      "packages": _packages(o) if o.status == "Complete" else [], "returns": copy.deepcopy(o.returned)}
                     for o in sorted(self.orders.values(), key=lambda o: o.order_id)
                     if seller_id in (None, o.seller_id)]
        return {"fulfillmentOrders": found}

    # --- operations ----------------------------------------------------------------------------

    def _create(self, caller: Caller, params: dict[str, Any]) -> Reply:
        body = params["body"]
        problem = _check_request(body)
        if problem:
            raise InvalidInput(problem)
        order_id = body["sellerFulfillmentOrderId"]
        if caller.seller_id is None:
            raise InvalidInput("A fulfillment order is made with a seller's token.")
        if (caller.seller_id, order_id) in self.orders:  # unique per seller
            raise InvalidInput(f"A fulfillment order with sellerFulfillmentOrderId {order_id} already exists.")
        moment = self.now()
        order = FulfillmentOrder(caller.seller_id, copy.deepcopy(body), moment, updated=moment)
        self.orders[(caller.seller_id, order_id)] = order
        self._push(order, moment, "Order")
        return Reply(200, {}, "createFulfillmentOrder")

    def _found(self, caller: Caller, params: dict[str, Any], operation: str) -> FulfillmentOrder | Reply:
        wanted = params["sellerFulfillmentOrderId"]
        order = next((o for (seller, order_id), o in self.orders.items()
                      if order_id == wanted and caller.may_see(seller)), None)
        if order is None:
            return Reply(404, errors("NotFound", f"Fulfillment order {params['sellerFulfillmentOrderId']} was "
                                                 "not found."), operation)
        return order

    def _get(self, caller: Caller, params: dict[str, Any]) -> Reply:
        order = self._found(caller, params, "getFulfillmentOrder")
        if isinstance(order, Reply):
            return order
        return Reply(200, {"payload": _result(order)}, "getFulfillmentOrder")

    def _cancel(self, caller: Caller, params: dict[str, Any]) -> Reply:
        order = self._found(caller, params, "cancelFulfillmentOrder")
        if isinstance(order, Reply):
            return order
        if order.status == "Cancelled":
            return Reply(200, {}, "cancelFulfillmentOrder")
        if order.status not in CANCELLABLE:
            raise InvalidInput(f"Fulfillment order {order.order_id} is {order.status} and can no longer be "
                               "cancelled.")
        moment = self.now()
        order.status, order.updated, order.cancelled_at = "Cancelled", moment, moment
        self._push(order, moment, "Order")
        return Reply(200, {}, "cancelFulfillmentOrder")


def _check_request(body: Mapping[str, Any]) -> str | None:
    """Amazon's rules beyond the model's schema, as its documentation states them."""
    if not 1 <= len(str(body.get("sellerFulfillmentOrderId", ""))) <= 40:
        return "sellerFulfillmentOrderId must be 1 to 40 characters."
    if "  " in str(body.get("displayableOrderId", "")):
        return "displayableOrderId cannot contain two spaces in a row."
    address = body.get("destinationAddress") or {}
    for name in ("name", "addressLine1", "postalCode", "countryCode"):
        if not address.get(name):
            return f"destinationAddress.{name} is required."
    if len(str(address.get("countryCode"))) != 2:
        return "destinationAddress.countryCode must be an ISO 3166-1 alpha-2 code."
    items = body.get("items") or []
    if not items:
        return "items must name at least one item."
    ids = [i.get("sellerFulfillmentOrderItemId") for i in items]
    if len(set(ids)) != len(ids):
        return "Each item needs its own sellerFulfillmentOrderItemId."
    if any(not isinstance(i.get("quantity"), int) or i["quantity"] < 1 for i in items):
        return "Each item's quantity must be at least 1."
    return None


def _shipment_id(order: FulfillmentOrder) -> str:
    return "D" + hashlib.sha256(order.order_id.encode()).hexdigest()[:8]


def _packages(order: FulfillmentOrder) -> list[dict[str, Any]]:
    digest = int(hashlib.sha256(order.order_id.encode()).hexdigest(), 16)
    return [{"packageNumber": 1, "carrierCode": CARRIERS[digest % len(CARRIERS)],
             "trackingNumber": f"TRK{digest % 10**12:012d}"}]


def _result(order: FulfillmentOrder) -> dict[str, Any]:
    """getFulfillmentOrder's payload for the order now (the destination address as Amazon keeps it)."""
    request = order.request
    shipping = order.status in ("Processing", "Complete")
    arrival = format_time(order.received + timedelta(days=3))
    ship = format_time(order.received + STEPS[-1][1] / WAREHOUSE_WARP)
    items = [{"sellerSku": i["sellerSku"], "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
              "quantity": i["quantity"], "cancelledQuantity": i["quantity"] if order.status == "Cancelled" else 0,
              "unfulfillableQuantity": 0, "orderItemDisposition": "Sellable", "estimatedShipDate": ship}
             for i in request["items"]]
    fulfillment_order = {
        "sellerFulfillmentOrderId": order.order_id, "marketplaceId": request.get("marketplaceId") or "A1F83G8C2ARO7P",
        "displayableOrderId": request["displayableOrderId"], "displayableOrderDate": request["displayableOrderDate"],
        "displayableOrderComment": request["displayableOrderComment"],
        "shippingSpeedCategory": request["shippingSpeedCategory"],
        "destinationAddress": copy.deepcopy(request["destinationAddress"]),
        "fulfillmentAction": request.get("fulfillmentAction") or "Ship",
        "fulfillmentPolicy": request.get("fulfillmentPolicy") or "FillOrKill",
        "receivedDate": format_time(order.received), "fulfillmentOrderStatus": order.status,
        "statusUpdatedDate": format_time(order.updated)}
    result: dict[str, Any] = {"fulfillmentOrder": fulfillment_order, "fulfillmentOrderItems": items,
                              "returnItems": copy.deepcopy(order.returned), "returnAuthorizations": []}
    if shipping:
        complete = order.status == "Complete"
        result["fulfillmentShipments"] = [{
            "amazonShipmentId": _shipment_id(order), "fulfillmentCenterId": "LTN4",
            "fulfillmentShipmentStatus": "SHIPPED" if complete else "PENDING",
            "shippingDate": format_time(order.updated), "estimatedArrivalDate": arrival,
            "fulfillmentShipmentItem": [{"sellerSku": i["sellerSku"],
                                         "sellerFulfillmentOrderItemId": i["sellerFulfillmentOrderItemId"],
                                         "quantity": i["quantity"], "packageNumber": 1} for i in request["items"]],
            **({"fulfillmentShipmentPackage": [{**p, "estimatedArrivalDate": arrival} for p in _packages(order)]}
               if complete else {})}]
    return result
