"""Order rules, pure: the status vocabulary, which change wins, when details are stale.

Amazon delivers notifications at least once and in any order. An order therefore keeps the
*change key* of the last change it applied; a change is applied only when its key is
greater. The key orders by the time Amazon says the change happened, then by how far the
status has progressed (for two changes stamped with the same instant), so a repeated or late
notification never moves an order backwards or applies twice. The DynamoDB adapter enforces
the same rule in one conditional write (`change_key < :new`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum

from chalicelib.core.fields import quote
from chalicelib.core.money import Money
from chalicelib.core.times import iso, utc


class OrderStatus(str, Enum):
    """Orders API v2026-01-01 `FulfillmentStatus` vocabulary."""

    PENDING = "PENDING"
    PENDING_AVAILABILITY = "PENDING_AVAILABILITY"
    UNSHIPPED = "UNSHIPPED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    UNFULFILLABLE = "UNFULFILLABLE"


# ORDER_CHANGE still speaks the Orders API v0 words.
_LEGACY_WORDS = {
    "pending": OrderStatus.PENDING,
    "pendingavailability": OrderStatus.PENDING_AVAILABILITY,
    "unshipped": OrderStatus.UNSHIPPED,
    "partiallyshipped": OrderStatus.PARTIALLY_SHIPPED,
    "shipped": OrderStatus.SHIPPED,
    # Brazil: shipped, invoice not yet confirmed to Amazon. For status purposes it has shipped.
    "invoiceunconfirmed": OrderStatus.SHIPPED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "unfulfillable": OrderStatus.UNFULFILLABLE,
}

# How far an order has progressed; breaks ties between changes stamped with the same instant.
STATUS_RANK = {
    OrderStatus.PENDING: 1,
    OrderStatus.PENDING_AVAILABILITY: 2,
    OrderStatus.UNSHIPPED: 3,
    OrderStatus.PARTIALLY_SHIPPED: 4,
    OrderStatus.SHIPPED: 5,
    OrderStatus.UNFULFILLABLE: 6,
    OrderStatus.CANCELLED: 7,
}


class UnknownStatus(ValueError):
    pass


def to_status(word: object) -> OrderStatus:  # object: anything a payload holds (refused below)
    """Map either vocabulary (`Unshipped`, `Canceled`, `PARTIALLY_SHIPPED`...) to ours."""
    if not isinstance(word, str) or not word:
        raise UnknownStatus(f"order status {quote(word)} is not a status word")
    key = word.replace("_", "").replace(" ", "").lower()
    try:
        return _LEGACY_WORDS[key]
    except KeyError:
        raise UnknownStatus(f"order status {quote(word)} is not one Amazon documents") from None


def change_key(changed_at: datetime, status: OrderStatus) -> str:
    return f"{iso(changed_at)}#{STATUS_RANK[status]}"


@dataclass(frozen=True)
class OrderLine:
    order_item_id: str
    sku: str | None
    quantity: int
    quantity_shipped: int = 0


@dataclass(frozen=True)
class TimelineEntry:
    status: OrderStatus
    at: datetime
    notification_id: str
    source: str = "ORDER_CHANGE"


@dataclass(frozen=True)
class OrderChange:
    """What one ORDER_CHANGE notification says about an order."""

    seller_id: str
    order_id: str
    marketplace_id: str | None
    status: OrderStatus
    changed_at: datetime
    notification_id: str
    fulfillment_channel: str | None = None  # AFN | MFN
    order_type: str | None = None
    is_business: bool = False
    is_prime: bool = False
    purchase_date: datetime | None = None
    ship_by: tuple[datetime | None, datetime | None] = (None, None)
    deliver_by: tuple[datetime | None, datetime | None] = (None, None)
    lines: tuple[OrderLine, ...] = ()
    change_type: str | None = None
    change_reason: str | None = None
    delivered_at: datetime | None = None  # when Amazon says the parcel was delivered (buyer data expiry)
    source: str = "ORDER_CHANGE"  # or "getOrder" when Amazon's order itself tells us

    @property
    def key(self) -> str:
        return change_key(self.changed_at, self.status)


@dataclass(frozen=True)
class LineMoney:
    """What Amazon charged for one order line (Orders API proceeds), exact."""

    order_item_id: str
    sku: str | None
    asin: str | None
    title: str | None
    quantity: int
    unit_price: Money | None
    item: Money | None = None  # ITEM proceeds (unit price × quantity, tax included where B2C)
    shipping: Money | None = None
    discount: Money | None = None
    tax: Money | None = None
    item_tax: Money | None = None
    shipping_tax: Money | None = None
    total: Money | None = None
    promotion_ids: tuple[str, ...] = ()
    gift_wrap: Money | None = None
    gift_wrap_tax: Money | None = None
    discount_tax: Money | None = None  # the VAT of the promotions (negative)


@dataclass(frozen=True)
class Package:
    package_reference_id: str
    carrier: str | None
    tracking_number: str | None
    ship_time: datetime | None
    status: str | None
    items: tuple[tuple[str, int], ...] = ()  # (order item id, units) the package carried


@dataclass(frozen=True)
class OrderDetails:
    """The money side of an order, from getOrder."""

    as_of: datetime  # Amazon's lastUpdatedTime for the snapshot
    status: OrderStatus
    currency: str | None
    grand_total: Money | None
    breakdown: dict[str, Money] = field(default_factory=dict)
    lines: tuple[LineMoney, ...] = ()
    packages: tuple[Package, ...] = ()
    programs: tuple[str, ...] = ()
    marketplace_id: str | None = None
    fulfilled_by: str | None = None
    created_time: datetime | None = None


@dataclass(frozen=True)
class Attention:
    """Why an order needs a person: its money from Amazon could not be taken as exact."""

    reason: str
    since: datetime


@dataclass(frozen=True)
class Order:
    seller_id: str
    order_id: str
    marketplace_id: str | None
    status: OrderStatus
    change_key: str
    updated_at: datetime
    fulfillment_channel: str | None = None
    order_type: str | None = None
    is_business: bool = False
    is_prime: bool = False
    purchase_date: datetime | None = None
    ship_by: tuple[datetime | None, datetime | None] = (None, None)
    deliver_by: tuple[datetime | None, datetime | None] = (None, None)
    lines: tuple[OrderLine, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    details: OrderDetails | None = None
    attention: Attention | None = None


def is_newer(change: OrderChange, current_key: str | None) -> bool:
    return current_key is None or change.key > current_key


def apply_change(current: Order | None, change: OrderChange, now: datetime) -> Order | None:
    """The order after `change`, or None when the change is a repeat or older than what we have.

    A late change still has history value: see `timeline_with`.
    """
    if current is not None and not is_newer(change, current.change_key):
        return None
    entry = TimelineEntry(change.status, utc(change.changed_at), change.notification_id, change.source)
    base = current or Order(
        seller_id=change.seller_id,
        order_id=change.order_id,
        marketplace_id=change.marketplace_id,
        status=change.status,
        change_key=change.key,
        updated_at=now,
    )
    return replace(
        base,
        marketplace_id=change.marketplace_id or base.marketplace_id,
        status=change.status,
        change_key=change.key,
        updated_at=now,
        fulfillment_channel=change.fulfillment_channel or base.fulfillment_channel,
        order_type=change.order_type or base.order_type,
        is_business=change.is_business,
        is_prime=change.is_prime,
        purchase_date=change.purchase_date or base.purchase_date,
        ship_by=change.ship_by if any(change.ship_by) else base.ship_by,
        deliver_by=change.deliver_by if any(change.deliver_by) else base.deliver_by,
        lines=change.lines or base.lines,
        timeline=timeline_with(base.timeline if current else (), entry),
    )


# Amazon waits for the seller to ship these (PENDING orders are not yet to be shipped).
AWAITING_SHIPMENT = frozenset({OrderStatus.UNSHIPPED, OrderStatus.PARTIALLY_SHIPPED})


def awaits_merchant_shipping(status: OrderStatus, fulfillment_channel: str | None) -> bool | None:
    """Whether Amazon waits for the seller to ship the order (its ship-by date counts): a
    merchant-fulfilled order not yet wholly shipped. None when only the channel would tell and
    it is not known."""
    if status not in AWAITING_SHIPMENT or fulfillment_channel == "AFN":
        return False
    return True if fulfillment_channel == "MFN" else None


def change_id(status: OrderStatus, at: datetime) -> str:
    """What makes two notifications the same change: the status and the time Amazon says the
    order changed. Amazon may send one change again under a new NotificationId."""
    return f"{iso(at)}#{status.value}"


def timeline_with(timeline: tuple[TimelineEntry, ...], entry: TimelineEntry) -> tuple[TimelineEntry, ...]:
    """Add an entry once (by notification id, and by change: the same status at the same time),
    keeping the timeline in time order."""
    if any(e.notification_id == entry.notification_id or change_id(e.status, e.at) == change_id(entry.status, entry.at)
           for e in timeline):
        return timeline
    return tuple(sorted((*timeline, entry), key=lambda e: (e.at, STATUS_RANK[e.status])))


def needs_details(status: OrderStatus, details_status: OrderStatus | None) -> bool:
    """Money, packages and buyer data are (re)read from getOrder when the order is new or its
    status moved since the last read: prices appear once an order leaves PENDING, packages
    once it ships, cancellations once it is cancelled."""
    return details_status is None or details_status != status


BUYER_DATA_DAYS = 30


def buyer_data_expiry(delivered_at: datetime | None, deliver_by_latest: datetime | None,
                      purchase_date: datetime | None, now: datetime) -> datetime:
    """Amazon's Data Protection Policy: delete buyer data at most 30 days after delivery.

    From the actual delivery when Amazon reports it; until then from the latest promised
    delivery date; failing that, from the purchase date plus the longest usual delivery window
    (30 days), or from now."""
    anchor = (delivered_at or deliver_by_latest
              or (purchase_date + timedelta(days=30) if purchase_date else now + timedelta(days=30)))
    return utc(anchor) + timedelta(days=BUYER_DATA_DAYS)
