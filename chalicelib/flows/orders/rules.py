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


Stored = tuple[Order, OrderStatus | None, frozenset[str]]  # an order, its details' status, the notifications seen


@dataclass(frozen=True)
class Applied:
    """A change the store took: the order after it."""
    order: Order
    created: bool
    details_status: OrderStatus | None


@dataclass(frozen=True)
class Refused:
    """A change the store refused (a repeat, an older change, one naming another seller): the
    order as it stood then when the store could tell with the refusal (None: read it)."""
    stored: Stored | None


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


class Read(str, Enum):
    """Why getOrder is read (again) for an order: what Amazon has that we use and do not hold."""

    FIRST = "first"  # paid for: its money, items and buyer data
    PACKAGES = "packages"  # a merchant order shipped: Amazon's packages (those confirmed in Seller Central too)
    CANCELLATION = "cancellation"  # its cancellation: the money and items as Amazon left them


# Until payment is authorised Amazon shares no prices and no buyer data: nothing to read yet.
AWAITING_PAYMENT = frozenset({OrderStatus.PENDING, OrderStatus.PENDING_AVAILABILITY})
SHIPPED_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED})


def details_due(status: OrderStatus, details_status: OrderStatus | None,
                fulfillment_channel: str | None) -> Read | None:
    """Whether the order's details must be read from Amazon, and why; None when what we hold
    is all we use. Not on every status word:

    - a PENDING order has no prices and no buyer yet: its first read waits for the payment;
    - the first read, once paid for (or first seen later), brings money, items and buyer data;
    - a merchant order's shipping brings Amazon's packages (a package confirmed in Seller
      Central exists nowhere else); an FBA order's shipping brings nothing we use (the
      notification carries the shipped units, which is what its invoice needs);
    - a cancellation brings the items and money as Amazon left them.
    Refunds come from the Finances notifications (invoices flow), not from getOrder.
    """
    if status in AWAITING_PAYMENT:
        return None
    if details_status is None or details_status in AWAITING_PAYMENT:
        return Read.FIRST
    if status == details_status:
        return None
    if status is OrderStatus.CANCELLED:
        return Read.CANCELLATION
    if status in SHIPPED_STATUSES and fulfillment_channel != "AFN":
        return Read.PACKAGES
    return None


def packages_known(status: OrderStatus, lines: tuple[OrderLine, ...], confirmed: dict[str, int]) -> bool:
    """Every unit Amazon says a merchant order shipped went in a package confirmed through
    sellerops (`confirmed`: units per order item): Amazon's packages would tell nothing new."""
    if not lines:
        return False
    for line in lines:
        shipped = line.quantity if status is OrderStatus.SHIPPED else line.quantity_shipped
        if confirmed.get(line.order_item_id, 0) < shipped:
            return False
    return True


def needs_details(order: Order, details_status: OrderStatus | None) -> bool:
    return details_due(order.status, details_status, order.fulfillment_channel) is not None


def first_read_queued(order: Order, details_status: OrderStatus | None, notification_id: str) -> bool:
    """The order's first read was already queued by the change before the one `notification_id`
    just applied: that change found it due (paid for, never read) and queued the fetch, which
    reads Amazon's order as it is when it runs, this change included. (A fetch that read before
    this change and saves after it sees the status moved, and queues the read again:
    `read_again`.)"""
    if details_status is not None or order.attention is not None:
        return False  # read already, or read and refused (its money): the next change reads again
    before = [e for e in order.timeline if e.notification_id != notification_id]
    if not before:
        return False
    prior = max(before, key=lambda e: e.at).status
    return details_due(prior, None, order.fulfillment_channel) is Read.FIRST


def read_again(stored: Order, read_at: OrderStatus, known_key: str) -> bool:
    """Details were just saved as Amazon had them at `read_at`, and the order stored after the
    save has moved on since the read began (its change key is no longer `known_key`: a change
    came in meanwhile) in a way that needs another read. Only then: an Amazon that lags its own
    notification gets no read after read."""
    return stored.change_key != known_key and stored.status != read_at and needs_details(stored, read_at)


# A merchant order's stock moves when it is placed (reserved), cancelled (released) and shipped
# (consumed); PENDING → UNSHIPPED moves nothing.
STOCK_MOVES = frozenset({OrderStatus.CANCELLED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED})


def moves_stock(fulfillment_channel: str | None, created: bool, status: OrderStatus) -> bool:
    """Whether an applied change may move the seller's own (merchant) stock."""
    return fulfillment_channel == "MFN" and (created or status in STOCK_MOVES)


class Door(str, Enum):
    """How an order's details are read: one getOrder each, or a page of up to 100 orders from
    searchOrders (same includedData, by lastUpdatedAfter window)."""

    GET_ORDER = "getOrder"
    SEARCH = "searchOrders"


# getOrder (0.5/s) reads 89 orders in the time searchOrders (0.0056/s) reads a page of 100:
# when more calls than a page and a half are booked ahead of a seller's next getOrder, the
# search door opens for its orders changed from then on.
SEARCH_OPENS_AT_QUEUED_CALLS = 150.0
# A search window whose orders came slower than this share of getOrder's rate is its last.
SEARCH_CLOSES_BELOW_SHARE = 0.5


# What a search page asks searchOrders for: only the orders the search door reads (door), so
# that a page of 100 is 100 reads, not the orders getOrder took or the status words between
# them: FBA orders paid for or cancelled. searchOrders lists every order updated in a window,
# and at 50,000 orders a day that is more than its 48,000 a day: the search cannot scan
# everything, it takes a share that getOrder then has room for.
SEARCH_STATUSES = ("UNSHIPPED", "CANCELLED")
SEARCH_FULFILLED_BY = "AMAZON"
SEARCHED_READS = frozenset({Read.FIRST, Read.CANCELLATION})


def door(changed_at: datetime | None, searching_since: datetime | None, has_get_order_slot: bool,
         fulfillment_channel: str | None = None, read: Read | None = None) -> Door:
    """The door of an order waiting for its details. A task that already booked a getOrder
    slot uses it. While a search is open, the FBA orders changed since it began wait for its
    pages (its lane lists them and nothing else), whatever getOrder's queue; getOrder takes the
    rest (merchant orders, packages, anything changed before)."""
    if has_get_order_slot or searching_since is None or changed_at is None:
        return Door.GET_ORDER
    if fulfillment_channel != "AFN" or read not in SEARCHED_READS:
        return Door.GET_ORDER
    return Door.SEARCH if utc(changed_at) >= utc(searching_since) else Door.GET_ORDER


def opens_search(queued_get_order_calls: float) -> bool:
    """A new getOrder booking found this many calls ahead of it: open the search door."""
    return queued_get_order_calls >= SEARCH_OPENS_AT_QUEUED_CALLS


def keeps_searching(due_in_window: int, window_seconds: float, get_order_rate: float,
                    queued_get_order_calls: float) -> bool:
    """After a window's last page: search the next window while getOrder's queue is still full,
    or the window's orders came at more than half getOrder's rate (rates in requests per second
    of one clock): below that getOrder alone keeps up, and answers sooner."""
    if opens_search(queued_get_order_calls):
        return True
    if window_seconds <= 0:
        return due_in_window > 0
    return due_in_window / window_seconds >= SEARCH_CLOSES_BELOW_SHARE * get_order_rate


@dataclass(frozen=True)
class Backlog:
    """A seller's orders waiting for their details: calls booked ahead on getOrder and, while
    its search door is open, the orders changed since the search began."""

    get_order_queued: int  # getOrder calls booked beyond what Amazon's bucket lets go at once
    oldest_wait_seconds: float  # how long the longest-waiting order has waited, or will have
    searching: bool


# Orders waiting longer than this for their details: the seller is told (alerts topic).
BACKLOG_ALERT_SECONDS = 15 * 60


def backlog_of(get_order_queued: float, get_order_rate: float, searching_since: datetime | None,
               now: datetime) -> Backlog:
    """The backlog from what the shared limiter and the open search know (no extra record):
    the last order booked on getOrder waits its queue's length; the search reads, in time
    order, every order changed since its window began."""
    wait = get_order_queued / get_order_rate if get_order_rate > 0 else 0.0
    search_wait = max(0.0, (utc(now) - utc(searching_since)).total_seconds()) if searching_since else 0.0
    return Backlog(int(round(get_order_queued)), max(wait, search_wait), searching_since is not None)


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
