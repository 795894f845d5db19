"""Multi-Channel Fulfillment (pure): an order from another sales channel, sent to Amazon's
warehouses (Fulfillment Outbound API 2020-07-01), and what Amazon says of it since.

Amazon knows the order by the seller's `sellerFulfillmentOrderId`, which the caller gives: the
same id is the same order, so a retried request never makes a second one. What Amazon answers
(`getFulfillmentOrder`) is kept as a snapshot without the recipient: status, items, shipments
with their packages and tracking, returns. A snapshot replaces the one held only when it was read
later and Amazon's `statusUpdatedDate` is not older, so late or repeated notifications and two
reads racing change nothing.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any

from chalicelib.core import fields
from chalicelib.core.errors import PermanentError

# Amazon's FulfillmentOrderStatus: the seller may cancel a Received or Planning order (Amazon
# documents no cancellation of a New one, which it has not validated yet).
CANCELLABLE = frozenset({"Received", "Planning"})
FINAL = frozenset({"Cancelled", "Complete", "CompletePartialled", "Unfulfillable", "Invalid"})
SPEEDS = ("Standard", "Expedited", "Priority", "ScheduledDelivery")
POLICIES = ("FillOrKill", "FillAll", "FillAllAvailable")


def is_id(value: str) -> bool:
    """A sellerFulfillmentOrderId as Amazon takes it: 1 to 40 ASCII letters, digits, '-', '_', '.'."""
    return 1 <= len(value) <= 40 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)


class State(str, Enum):
    REQUESTED = "requested"  # recorded here, on its way to Amazon (createFulfillmentOrder)
    CREATED = "created"  # Amazon has it: see amazonStatus
    REFUSED = "refused"  # Amazon refused to create it (see amazonAnswer)


class Refused(Exception):
    """A request the order does not allow: 409 (or 400), with the message a person reads."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Item:
    item_id: str  # sellerFulfillmentOrderItemId
    sku: str
    quantity: int


@dataclass(frozen=True)
class FulfillmentRequest:
    """What the caller sends. `recipient` is personal data: it is sealed apart (buyer data) and
    never part of the record."""

    fulfillment_order_id: str
    seller_id: str
    marketplace_id: str
    displayable_order_id: str
    displayable_order_date: datetime
    comment: str
    speed: str
    policy: str
    items: tuple[Item, ...]
    recipient: Mapping[str, str]

    def fingerprint(self) -> str:
        """Tells the same request from another one under the same id (the recipient counts, by
        its digest)."""
        data = {"id": self.fulfillment_order_id, "seller": self.seller_id, "marketplace": self.marketplace_id,
                "displayable": self.displayable_order_id, "date": self.displayable_order_date.isoformat(),
                "comment": self.comment, "speed": self.speed, "policy": self.policy,
                "items": [[i.item_id, i.sku, i.quantity] for i in self.items],
                "recipient": sorted(self.recipient.items())}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FulfillmentOrder:
    fulfillment_order_id: str
    seller_id: str
    marketplace_id: str
    state: State
    requested_at: datetime
    displayable_order_id: str = ""
    speed: str | None = None
    items: tuple[Item, ...] = ()
    fingerprint: str | None = None  # None: created elsewhere (Seller Central), followed here
    amazon_status: str | None = None
    status_updated_at: datetime | None = None  # Amazon's statusUpdatedDate of the snapshot
    snapshot: Mapping[str, Any] = field(default_factory=dict)  # shipments, items, returns (no recipient)
    amazon_answer: str | None = None  # Amazon's refusal (to create or to cancel), as it said it
    cancel_requested_at: datetime | None = None
    read_at: datetime | None = None  # when the snapshot was read from Amazon
    version: int = 0

    @property
    def on_its_way(self) -> bool:
        """Its creation, or a cancellation, is still to reach Amazon (the sweep looks at it)."""
        return self.state is State.REQUESTED or (self.cancel_requested_at is not None
                                                 and self.amazon_status != "Cancelled")

    @property
    def cancellable(self) -> bool:
        return self.state is State.CREATED and self.amazon_status in CANCELLABLE


def new_order(request: FulfillmentRequest, now: datetime) -> FulfillmentOrder:
    return FulfillmentOrder(request.fulfillment_order_id, request.seller_id, request.marketplace_id,
                            State.REQUESTED, now, request.displayable_order_id, request.speed, request.items,
                            request.fingerprint())


def check_again(existing: FulfillmentOrder, request: FulfillmentRequest) -> None:
    """The same id again: the same request is answered with the order; another is a conflict."""
    if existing.seller_id != request.seller_id or existing.fingerprint != request.fingerprint():
        raise Refused(409, f"fulfillment order {existing.fulfillment_order_id} was already sent with other "
                           "details: a sellerFulfillmentOrderId names one order, for ever")


def check_cancel(order: FulfillmentOrder) -> None:
    if order.state is State.REFUSED:
        raise Refused(409, f"Amazon refused fulfillment order {order.fulfillment_order_id}: there is nothing to "
                           "cancel")
    if order.state is State.REQUESTED:
        raise Refused(409, f"fulfillment order {order.fulfillment_order_id} is still on its way to Amazon: cancel "
                           "it once Amazon has it (in a minute)")
    if order.amazon_status not in CANCELLABLE:
        raise Refused(409, f"Amazon no longer allows cancelling fulfillment order {order.fulfillment_order_id}: "
                           f"it is {order.amazon_status} (only {', '.join(sorted(CANCELLABLE))} can be)")


def created(order: FulfillmentOrder) -> FulfillmentOrder:
    return replace(order, state=State.CREATED, amazon_status=order.amazon_status or "Received", amazon_answer=None)


def cancel_refused(order: FulfillmentOrder, answer: str) -> FulfillmentOrder:
    """Amazon refused the cancellation: kept with its answer; a new one may be asked."""
    return replace(order, cancel_requested_at=None, amazon_answer=f"cancellation refused: {answer}"[:500])


def refused(order: FulfillmentOrder, answer: str) -> FulfillmentOrder:
    return replace(order, state=State.REFUSED, amazon_answer=answer[:500])


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


def _number(value: Any) -> int:
    if isinstance(value, Mapping):  # Quantity is {"value": n} in some answers
        value = value.get("value")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def snapshot_of(result: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """(status, statusUpdatedDate, snapshot) from getFulfillmentOrder's payload; the
    destination address and every other field naming a person are left out."""
    order = result.get("fulfillmentOrder") if isinstance(result.get("fulfillmentOrder"), Mapping) else {}
    assert isinstance(order, Mapping)
    items = [{"itemId": _text(i.get("sellerFulfillmentOrderItemId")), "sku": _text(i.get("sellerSku")),
              "quantity": _number(i.get("quantity")), "cancelled": _number(i.get("cancelledQuantity")),
              "unfulfillable": _number(i.get("unfulfillableQuantity")),
              "estimatedShipDate": _text(i.get("estimatedShipDate"))}
             for i in _list(result.get("fulfillmentOrderItems"))]
    shipments = []
    for s in _list(result.get("fulfillmentShipments")):
        shipments.append({
            "amazonShipmentId": _text(s.get("amazonShipmentId")), "status": _text(s.get("fulfillmentShipmentStatus")),
            "fulfillmentCenterId": _text(s.get("fulfillmentCenterId")), "shippingDate": _text(s.get("shippingDate")),
            "estimatedArrivalDate": _text(s.get("estimatedArrivalDate")),
            "items": [{"itemId": _text(i.get("sellerFulfillmentOrderItemId")), "sku": _text(i.get("sellerSku")),
                       "quantity": _number(i.get("quantity")), "packageNumber": i.get("packageNumber")}
                      for i in _list(s.get("fulfillmentShipmentItem"))],
            "packages": [{"packageNumber": p.get("packageNumber"), "carrierCode": _text(p.get("carrierCode")),
                          "trackingNumber": _text(p.get("trackingNumber")),
                          "estimatedArrivalDate": _text(p.get("estimatedArrivalDate"))}
                         for p in _list(s.get("fulfillmentShipmentPackage"))]})
    returns = [{"returnItemId": _text(r.get("sellerReturnItemId")),
                "itemId": _text(r.get("sellerFulfillmentOrderItemId")),
                "amazonShipmentId": _text(r.get("amazonShipmentId")), "status": _text(r.get("status")),
                "reasonCode": _text(r.get("sellerReturnReasonCode")),
                "amazonReasonCode": _text(r.get("amazonReturnReasonCode")),
                "condition": _text(r.get("returnReceivedCondition")), "changedAt": _text(r.get("statusChangedDate"))}
               for r in _list(result.get("returnItems"))]
    status, updated = _text(order.get("fulfillmentOrderStatus")), _text(order.get("statusUpdatedDate"))
    return status, updated, {"items": items, "shipments": shipments, "returns": returns,
                             "displayableOrderId": _text(order.get("displayableOrderId")),
                             "marketplaceId": _text(order.get("marketplaceId")),
                             "shippingSpeedCategory": _text(order.get("shippingSpeedCategory")),
                             "receivedDate": _text(order.get("receivedDate"))}


def with_snapshot(order: FulfillmentOrder, status: str | None, updated: datetime | None,
                  snapshot: Mapping[str, Any], read_at: datetime) -> FulfillmentOrder | None:
    """The order with Amazon's snapshot read at `read_at`, or None when the one held was read
    later, is newer by Amazon's date, or says the same (a late, repeated or racing answer)."""
    if order.read_at is not None and read_at < order.read_at:
        return None
    if order.status_updated_at is not None and updated is not None and updated < order.status_updated_at:
        return None
    if (order.amazon_status, order.status_updated_at, dict(order.snapshot)) == (status, updated, dict(snapshot)):
        return None
    marketplace = snapshot.get("marketplaceId")
    speed = snapshot.get("shippingSpeedCategory")
    return replace(order, state=State.CREATED, amazon_status=status, status_updated_at=updated,
                   snapshot=dict(snapshot), read_at=read_at,
                   marketplace_id=order.marketplace_id or (marketplace if isinstance(marketplace, str) else ""),
                   speed=order.speed or (speed if isinstance(speed, str) else None))


def amazon_time(value: str | None) -> datetime | None:
    """Amazon's timestamp, or None when it is not one with a zone (never raises)."""
    try:
        return fields.moment(value, "statusUpdatedDate")
    except PermanentError:
        return None
