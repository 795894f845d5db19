"""A merchant shipment: what the warehouse may record against an order, and what Amazon's answer
to its confirmation means (pure).

A shipment is one package: a carrier, a tracking number, a ship date and the order's items it
carries. What is still to ship per item is the quantity ordered less the larger of what we
recorded (shipments not refused by Amazon) and what Amazon reports shipped (the seller may also
confirm in Seller Central): never both, since a shipment we confirmed shows in Amazon's count too.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

# A ship date this far ahead of our clock is the warehouse's clock running fast, not the future.
CLOCK_TOLERANCE = timedelta(minutes=10)
MAX_LINES = 100
MAX_SHIPMENTS_PER_ORDER = 100


class ShipmentState(str, Enum):
    PENDING = "pending"  # recorded, its confirmation to Amazon not yet answered
    CONFIRMED = "confirmed"  # Amazon has it
    REJECTED = "rejected"  # Amazon refused it: a person must look (see `amazon_answer`)


@dataclass(frozen=True)
class ShipmentLine:
    order_item_id: str
    quantity: int
    sku: str | None = None


@dataclass(frozen=True)
class ShipmentRequest:
    """What the warehouse sends: each line names the item by order item id or by SKU."""

    carrier_code: str
    tracking_number: str
    ship_date: datetime
    lines: tuple[tuple[str | None, str | None, int], ...]  # (order item id, sku, quantity)
    carrier_name: str | None = None
    shipping_method: str | None = None
    ship_from_supply_source_id: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know of the order (from the orders flow's record)."""

    order_id: str
    seller_id: str
    marketplace_id: str | None
    status: str  # the orders flow's status word
    fulfillment_channel: str | None  # AFN | MFN
    purchase_date: datetime | None
    items: tuple[tuple[str, str | None, int, int], ...]  # (order item id, sku, ordered, shipped per Amazon)
    # The package reference ids Amazon already holds for the order (getOrder's packages: those
    # confirmed in Seller Central or by another tool too); ours must not reuse one.
    amazon_packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shipment:
    shipment_id: str  # <order id>.<number>
    order_id: str
    seller_id: str
    marketplace_id: str | None
    number: int  # 1, 2, ... per order; also the package reference id sent to Amazon
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    lines: tuple[ShipmentLine, ...]
    recorded_at: datetime
    carrier_name: str | None = None
    shipping_method: str | None = None
    ship_from_supply_source_id: str | None = None
    state: ShipmentState = ShipmentState.PENDING
    answered_at: datetime | None = None
    amazon_answer: str | None = None  # Amazon's refusal, as it said it
    explanation: str | None = None  # what the refusal means, in plain words

    @property
    def package_reference_id(self) -> str:
        return str(self.number)


class Refused(Exception):
    """The request cannot be recorded: `status` 400 (the request is wrong in itself) or 409 (it
    does not fit the order or the time: an item the order does not have, too many units, a
    cancelled order, a ship date before the purchase or in the future), with a message that says
    which."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def shipment_id(order_id: str, number: int) -> str:
    return f"{order_id}.{number}"


_SHIPMENT_ID = re.compile(r"^([A-Za-z0-9-]{5,40})\.([1-9][0-9]{0,3})$")


def parse_shipment_id(value: str) -> tuple[str, int] | None:
    found = _SHIPMENT_ID.fullmatch(value or "")
    return (found.group(1), int(found.group(2))) if found else None


def left_to_ship(order: OrderFacts, recorded: Sequence[Shipment]) -> dict[str, int]:
    """Per order item: units still to ship."""
    ours: dict[str, int] = {}
    for shipment in recorded:
        if shipment.state is ShipmentState.REJECTED:
            continue
        for line in shipment.lines:
            ours[line.order_item_id] = ours.get(line.order_item_id, 0) + line.quantity
    return {item_id: max(0, ordered - max(ours.get(item_id, 0), shipped))
            for item_id, _, ordered, shipped in order.items}


def shipped_quantities(order: OrderFacts, recorded: Sequence[Shipment]) -> dict[str, dict[str, int]]:
    """Per order item: ordered, shipped and unshipped, as the order view shows them."""
    left = left_to_ship(order, recorded)
    return {item_id: {"ordered": ordered, "shipped": ordered - left[item_id], "unshipped": left[item_id]}
            for item_id, _, ordered, _ in order.items}


def check(order: OrderFacts, recorded: Sequence[Shipment], request: ShipmentRequest,
          now: datetime) -> tuple[ShipmentLine, ...]:
    """The request's lines resolved to order items, or `Refused` saying why."""
    if order.fulfillment_channel == "AFN":
        raise Refused(409, f"order {order.order_id} is fulfilled by Amazon (FBA): Amazon ships it, "
                           "there is nothing to confirm")
    if order.status in ("CANCELLED", "UNFULFILLABLE"):
        raise Refused(409, f"order {order.order_id} is {order.status.lower()}: it must not be shipped")
    if order.status in ("PENDING", "PENDING_AVAILABILITY"):
        raise Refused(409, f"order {order.order_id} is {order.status.lower()}: Amazon has not released it for "
                           "shipping yet (wait until it is unshipped)")
    if not order.items:
        raise Refused(409, f"order {order.order_id}'s items are not known yet: try again in a minute")
    if len(recorded) >= MAX_SHIPMENTS_PER_ORDER:
        raise Refused(409, f"order {order.order_id} has {len(recorded)} shipments already, the most one order takes")
    if request.carrier_code == "Other" and not request.carrier_name:
        raise Refused(400, "carrierName is required when carrierCode is Other")
    if request.ship_date > now + CLOCK_TOLERANCE:
        raise Refused(409, f"shipDate {request.ship_date.isoformat()} is in the future")
    if order.purchase_date is not None and request.ship_date < order.purchase_date:
        raise Refused(409, f"shipDate {request.ship_date.isoformat()} is before the order was placed "
                           f"({order.purchase_date.isoformat()})")
    by_sku: dict[str, list[str]] = {}
    for known, known_sku, _, _ in order.items:
        if known_sku:
            by_sku.setdefault(known_sku, []).append(known)
    skus = {known: known_sku for known, known_sku, _, _ in order.items}
    wanted: dict[str, int] = {}
    for index, (item_id, sku, quantity) in enumerate(request.lines):
        if item_id is not None:
            if item_id not in skus:
                raise Refused(409, f"items[{index}]: orderItemId {item_id} is not an item of order {order.order_id}")
            resolved = item_id
        else:
            candidates = by_sku.get(sku or "", [])
            if not candidates:
                raise Refused(409, f"items[{index}]: sku {sku} is not an item of order {order.order_id}")
            if len(candidates) > 1:
                raise Refused(409, f"items[{index}]: sku {sku} is on {len(candidates)} lines of the order: "
                                   "name the orderItemId")
            resolved = candidates[0]
        wanted[resolved] = wanted.get(resolved, 0) + quantity
    left = left_to_ship(order, recorded)
    for item_id, quantity in wanted.items():
        if quantity > left[item_id]:
            raise Refused(409, f"item {item_id} ({skus[item_id] or 'no SKU'}): {quantity} unit(s) to ship, but only "
                               f"{left[item_id]} of it left to ship (counting the shipments already recorded)")
    return tuple(ShipmentLine(item_id, quantity, skus[item_id]) for item_id, quantity in wanted.items())


def new_shipment(order: OrderFacts, recorded: Sequence[Shipment], request: ShipmentRequest,
                 now: datetime) -> Shipment:
    lines = check(order, recorded, request, now)
    number = max((s.number for s in recorded), default=0) + 1
    while str(number) in order.amazon_packages:  # a reference Amazon holds from elsewhere: never reused
        number += 1
    return Shipment(shipment_id(order.order_id, number), order.order_id, order.seller_id, order.marketplace_id,
                    number, request.carrier_code, request.tracking_number, request.ship_date, lines, now,
                    request.carrier_name, request.shipping_method, request.ship_from_supply_source_id)


# What Amazon's refusals of a confirmation mean, in plain words: (a phrase of Amazon's message,
# the explanation). The first that matches wins; Amazon's own message is always kept beside it.
_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("carriername is required", "Amazon needs the carrier's name when the carrier code is Other."),
    ("carrier", "Amazon does not know this carrier code: use one of Amazon's carrier codes, or Other with "
                "the carrier's name."),
    ("still to ship", "Amazon says these units were already shipped: the quantity is more than what is left "
                      "(was the shipment confirmed in Seller Central too?)."),
    ("quantity", "Amazon refused the quantities: more than what is left to ship."),
    ("cancel", "The order was cancelled meanwhile: do not send the parcel."),
    ("cannot be shipped", "Amazon's order is not in a state that can be shipped (cancelled or pending)."),
    ("fulfilled by amazon", "Amazon fulfils this order (FBA): there is nothing to confirm."),
    ("not an item", "Amazon does not know one of the items on this order."),
    ("already confirmed", "Amazon already has a package with this reference for the order."),
    ("not found", "Amazon does not know this order for this seller."),
)


def explain(amazon_message: str) -> str:
    lowered = amazon_message.lower()
    for phrase, explanation in _EXPLANATIONS:
        if phrase in lowered:
            return explanation
    return "Amazon refused the confirmation: see its answer, correct the shipment and record it again."


def answered(shipment: Shipment, now: datetime, refusal: str | None = None) -> Shipment:
    if refusal is None:
        return replace(shipment, state=ShipmentState.CONFIRMED, answered_at=now)
    return replace(shipment, state=ShipmentState.REJECTED, answered_at=now, amazon_answer=refusal[:300],
                   explanation=explain(refusal))


@dataclass(frozen=True)
class OrderShipments:
    """An order's shipments as stored: `version` guards each change against a concurrent one."""

    order_id: str
    seller_id: str
    shipments: tuple[Shipment, ...] = ()
    version: int = 0

    def get(self, number: int) -> Shipment | None:
        return next((s for s in self.shipments if s.number == number), None)
