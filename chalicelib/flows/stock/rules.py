"""Stock: the ledger's arithmetic, pure. Every movement becomes an immutable entry; the balance it
changes is computed here and written with the entry in one transaction (store.py).

Balances of a seller's SKU in the merchant's warehouse:

    on hand      what the shelf holds (counts, adjustments, shipments consumed)
    reserved     units of open merchant orders not shipped yet
    buffer       the seller's safety stock, never offered
    available    on hand - reserved - buffer, never below zero: what Amazon may promise

and, per marketplace, what Amazon reports of its own warehouses for FBA (fulfillable, inbound,
reserved, unfulfillable).

Why the result does not depend on the order events arrive in (the tests replay shuffled,
duplicated events against a serial oracle):

- A **count** says what the shelf held *at its time*. The balance keeps the time of the latest
  count and the physical movements applied since (`recent`); a count sets on hand to its
  quantity plus the movements after its time, a movement older than the latest count is recorded
  but already counted, and an older count than the latest is recorded as stale. So on hand is
  always "the latest count, plus every physical movement after it", whatever came first.
- An **adjustment** (and a shipment consumed) adds to on hand: sums commute.
- A merchant **order item** holds one merged record: the quantity ordered, the units consumed
  (the highest count any source reported shipped: our confirmed shipments, Amazon's
  QuantityShipped) and whether it was cancelled. Merging is monotone (maximums and a flag that
  only turns on), so any order of the same facts merges to the same record; its reservation is
  `ordered - consumed` while open, 0 once cancelled or shipped. The ledger records the
  difference each merge makes.
- **FBA** quantities: the latest report by Amazon's time wins.

Each entry is applied once: its id is the cause's own (a notification, a shipment, a request,
a file's line), and the store writes it only if it is not there yet.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from chalicelib.core.times import iso

# Physical movements older than this, counted from the latest one, are dropped from `recent`: a
# count must be posted within this window of the latest movement (older ones are refused).
COUNT_WINDOW = timedelta(hours=24)
MAX_QUANTITY = 10_000_000
LATEST_SHOWN = 10  # ledger entries kept on the balance for GET /stock/{sku}


class Kind(str, Enum):
    COUNT = "count"  # the warehouse counted the shelf
    ADJUSTMENT = "adjustment"  # the warehouse added or removed units, with a reason
    RESERVATION = "reservation"  # a merchant order took units
    RELEASE = "release"  # a cancellation gave them back
    CONSUMPTION = "consumption"  # a shipment took them off the shelf
    FBA = "fba"  # Amazon reported its warehouses' quantities
    FBA_DRIFT = "fba_drift"  # the reconciliation found Amazon's quantities other than we held


class State(str, Enum):
    IN_STOCK = "in_stock"
    OUT_OF_STOCK = "out_of_stock"
    DISCONTINUED = "discontinued"  # the seller stopped selling it: Amazon gets 0
    INVALID = "invalid"  # Amazon does not know the SKU (its message is kept)


class Refused(Exception):
    """A movement that cannot be applied as asked (a 409 on the API)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Fba:
    """What Amazon reports for one marketplace's FBA stock of a SKU, as of `at`."""

    fulfillable: int = 0
    inbound: int = 0
    reserved: int = 0
    unfulfillable: int = 0
    at: datetime | None = None

    def quantities(self) -> tuple[int, int, int, int]:
        return self.fulfillable, self.inbound, self.reserved, self.unfulfillable


@dataclass(frozen=True)
class Push:
    """The latest quantity sent to Amazon for the SKU (or being sent)."""

    quantity: int
    at: datetime
    via: str  # "patch" | "feed"
    status: str  # "sent" (Amazon accepted it) | "submitted" (in a feed, report pending) | "refused"
    reference: str | None = None  # the feed id or the patch's submission id
    message: str | None = None  # Amazon's refusal


@dataclass(frozen=True)
class Reported:
    """A quantity Amazon reported for the SKU's merchant listing (LISTINGS_ITEM_MFN_QUANTITY_CHANGE)."""

    quantity: int
    at: datetime


@dataclass(frozen=True)
class Entry:
    """One immutable ledger entry: what moved, why, and the balances right after."""

    entry_id: str
    kind: Kind
    at: datetime  # when it happened (the cause's time)
    on_hand_delta: int = 0
    reserved_delta: int = 0
    cause: Mapping[str, Any] = field(default_factory=dict)  # type, reference, reason (never personal data)
    counted: bool = False  # a physical movement older than the latest count: already in the count
    stale: bool = False  # a count older than the latest one: recorded, not applied
    oversold: bool = False  # a reservation that took units the shelf does not have
    on_hand: int = 0
    reserved: int = 0
    available: int = 0


@dataclass(frozen=True)
class Settings:
    buffer: int = 0
    reorder_point: int | None = None  # None: the deployment's default
    discontinued: bool = False


@dataclass(frozen=True)
class Balance:
    seller_id: str
    sku: str
    on_hand: int = 0
    reserved: int = 0
    settings: Settings = Settings()
    managed: bool = False  # the warehouse gave a count or an adjustment: its quantity is pushed to Amazon
    count_at: datetime | None = None
    recent: tuple[tuple[datetime, int], ...] = ()  # physical movements applied after the latest count (24 h)
    invalid: str | None = None  # Amazon's message when it does not know the SKU
    fba: Mapping[str, Fba] = field(default_factory=dict)
    pushed: Push | None = None
    reported: Reported | None = None
    corrections: int = 0  # times Amazon reported another quantity than we had sent
    drift: int = 0  # FBA quantities the reconciliation had to correct
    latest: tuple[Entry, ...] = ()
    version: int = 0
    push_since: datetime | None = None  # since when Amazon's quantity has been waiting to follow (store.py)

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.settings.buffer)

    @property
    def oversold(self) -> int:
        """Units promised to orders that the shelf does not hold."""
        return max(0, self.reserved - self.on_hand)


# --- states ---------------------------------------------------------------------------------

def state_of(balance: Balance) -> State:
    if balance.settings.discontinued:
        return State.DISCONTINUED
    if balance.invalid:
        return State.INVALID
    return State.IN_STOCK if balance.available > 0 else State.OUT_OF_STOCK


def reorder_point(balance: Balance, default: int) -> int:
    point = balance.settings.reorder_point
    return default if point is None else point


def needs_reorder(balance: Balance, default: int) -> bool:
    """On the reorder list: a merchant SKU still sold, at or below its reorder point."""
    return (balance.managed and not balance.settings.discontinued
            and balance.on_hand - balance.reserved <= reorder_point(balance, default))


def is_low(balance: Balance, default: int) -> bool:
    return needs_reorder(balance, default) and balance.available > 0


def target_quantity(balance: Balance) -> int | None:
    """What Amazon should show for the merchant listing; None: nothing to push (the warehouse
    never counted it, so sellerops does not manage its quantity)."""
    if not balance.managed:
        return None
    return 0 if balance.settings.discontinued else balance.available


def needs_push(balance: Balance) -> bool:
    """Amazon's quantity must follow: what we last sent is not the target, or Amazon reported
    another quantity after our last push."""
    target = target_quantity(balance)
    if target is None:
        return False
    pushed = balance.pushed
    if pushed is None or pushed.quantity != target:
        return True
    reported = balance.reported
    return reported is not None and reported.at > pushed.at and reported.quantity != target


# --- applying -------------------------------------------------------------------------------

def _latest(balance: Balance, entry: Entry) -> tuple[Entry, ...]:
    return ((entry,) + balance.latest)[:LATEST_SHOWN]


def _recorded(balance: Balance, entry: Entry) -> tuple[Balance, Entry]:
    """The balance after `entry`, with the entry's own copy of the balances it leaves."""
    entry = replace(entry, on_hand=balance.on_hand, reserved=balance.reserved, available=balance.available)
    return replace(balance, latest=_latest(balance, entry), version=balance.version + 1), entry


def _pruned(recent: tuple[tuple[datetime, int], ...]) -> tuple[tuple[datetime, int], ...]:
    if not recent:
        return recent
    newest = max(at for at, _ in recent)
    return tuple(sorted((at, d) for at, d in recent if at >= newest - COUNT_WINDOW))


def _physical(balance: Balance, at: datetime, delta: int) -> tuple[Balance, bool]:
    """Add a physical movement to on hand, unless the latest count already holds it."""
    if balance.count_at is not None and at <= balance.count_at:
        return balance, True
    return replace(balance, on_hand=balance.on_hand + delta, recent=_pruned(balance.recent + ((at, delta),))), False


def count(balance: Balance, entry_id: str, at: datetime, quantity: int, cause: Mapping[str, Any]) -> tuple[
        Balance, Entry]:
    """The shelf held `quantity` at `at`."""
    if not 0 <= quantity <= MAX_QUANTITY:
        raise Refused(f"a count is a whole number from 0 to {MAX_QUANTITY}")
    base = Entry(entry_id, Kind.COUNT, at, cause=cause)
    if balance.count_at is not None and at <= balance.count_at:
        return _recorded(replace(balance, managed=True), replace(base, stale=True))
    newest = max((t for t, _ in balance.recent), default=None)
    if newest is not None and at < newest - COUNT_WINDOW:
        raise Refused(f"a count at {iso(at)} is more than {COUNT_WINDOW.total_seconds() / 3600:.0f} h older than "
                      f"the latest movement ({iso(newest)}): count again and post the count now")
    after = tuple((t, d) for t, d in balance.recent if t > at)
    on_hand = quantity + sum(d for _, d in after)
    counted = replace(balance, on_hand=on_hand, count_at=at, recent=after, managed=True)
    return _recorded(counted, replace(base, on_hand_delta=on_hand - balance.on_hand))


def adjust(balance: Balance, entry_id: str, at: datetime, delta: int, cause: Mapping[str, Any]) -> tuple[
        Balance, Entry]:
    if delta == 0 or abs(delta) > MAX_QUANTITY:
        raise Refused(f"an adjustment is a whole number of units, not 0, at most {MAX_QUANTITY} either way")
    moved, counted = _physical(replace(balance, managed=True), at, delta)
    return _recorded(moved, Entry(entry_id, Kind.ADJUSTMENT, at, 0 if counted else delta, cause=cause,
                                  counted=counted))


def settle(balance: Balance, settings: Settings) -> Balance:
    """New buffer, reorder point or discontinued flag (PATCH /stock/{sku}): no ledger entry,
    the balances do not move."""
    if not 0 <= settings.buffer <= MAX_QUANTITY:
        raise Refused(f"safetyBuffer is a whole number from 0 to {MAX_QUANTITY}")
    if settings.reorder_point is not None and not 0 <= settings.reorder_point <= MAX_QUANTITY:
        raise Refused(f"reorderPoint is a whole number from 0 to {MAX_QUANTITY}")
    return replace(balance, settings=settings, version=balance.version + 1)


# --- merchant order items -------------------------------------------------------------------

@dataclass(frozen=True)
class ItemStock:
    """One merchant order item as stock sees it: merged from every fact about it."""

    order_id: str
    order_item_id: str
    sku: str
    ordered: int = 0
    consumed: int = 0
    cancelled: bool = False
    version: int = 0

    @property
    def reserving(self) -> int:
        return 0 if self.cancelled else max(0, self.ordered - self.consumed)


@dataclass(frozen=True)
class ItemFact:
    """What one source says about an order item: its quantity ordered, how many units left the
    shelf (shipped), and whether the order is cancelled."""

    order_id: str
    order_item_id: str
    sku: str
    ordered: int
    shipped: int = 0
    cancelled: bool = False


def merge(item: ItemStock | None, fact: ItemFact) -> ItemStock:
    """Monotone: the same facts in any order merge to the same record."""
    base = item or ItemStock(fact.order_id, fact.order_item_id, fact.sku)
    ordered = max(base.ordered, fact.ordered)
    return replace(base, ordered=ordered, consumed=min(ordered, max(base.consumed, fact.shipped)),
                   cancelled=base.cancelled or fact.cancelled)


def apply_item(balance: Balance, before: ItemStock | None, after: ItemStock, entry_id: str, at: datetime,
               cause: Mapping[str, Any]) -> tuple[Balance, list[Entry]]:
    """The balance after an order item's record moved from `before` to `after`: its reservation
    changes by the difference, and units newly consumed leave the shelf. No entry when nothing
    moved (a duplicate, an older fact)."""
    old_reserving = before.reserving if before else 0
    old_consumed = before.consumed if before else 0
    entries: list[Entry] = []
    consumed = after.consumed - old_consumed
    reserve_delta = after.reserving - old_reserving
    current = balance
    if consumed > 0:
        # Units that left the shelf: on hand down (unless a later count holds it) and their
        # reservation given back by the same entry.
        moved, counted = _physical(current, at, -consumed)
        release = min(consumed, old_reserving)
        moved = replace(moved, reserved=moved.reserved - release)
        reserve_delta += release
        current, entry = _recorded(moved, Entry(f"{entry_id}.consumed", Kind.CONSUMPTION, at,
                                                0 if counted else -consumed, -release, cause, counted=counted))
        entries.append(entry)
    if reserve_delta != 0:
        kind = Kind.RESERVATION if reserve_delta > 0 else Kind.RELEASE
        oversold = reserve_delta > 0 and current.reserved + reserve_delta > current.on_hand
        moved = replace(current, reserved=current.reserved + reserve_delta)
        current, entry = _recorded(moved, Entry(f"{entry_id}.{kind.value}", kind, at, 0, reserve_delta, cause,
                                                oversold=oversold))
        entries.append(entry)
    return current, entries


# --- FBA -----------------------------------------------------------------------------------

def report_fba(balance: Balance, entry_id: str, marketplace_id: str, reported: Fba, cause: Mapping[str, Any],
               *, drift: bool = False) -> tuple[Balance, Entry | None]:
    """Amazon's quantities for a marketplace, if newer than those held (None: older, or the same)."""
    held = balance.fba.get(marketplace_id)
    if held is not None and held.at is not None and reported.at is not None and reported.at <= held.at:
        return balance, None
    if held is not None and held.quantities() == reported.quantities():
        return replace(balance, fba={**balance.fba, marketplace_id: reported}), None
    before = held.fulfillable if held else 0
    drift = drift and held is not None  # a first report is news, not drift
    moved = replace(balance, fba={**balance.fba, marketplace_id: reported},
                    drift=balance.drift + (1 if drift else 0))
    assert reported.at is not None, "Amazon's quantities are read with their time"
    return _recorded(moved, Entry(entry_id, Kind.FBA_DRIFT if drift else Kind.FBA, reported.at, cause={
        **cause, "marketplaceId": marketplace_id, "fulfillable": reported.fulfillable,
        "fulfillableBefore": before}))


# --- Amazon's side of the merchant listing ----------------------------------------------------

def reported_by_amazon(balance: Balance, quantity: int, at: datetime) -> Balance | None:
    """Amazon says its listing shows `quantity` (None: an older report than the one held). A
    quantity other than ours is a correction: counted, and pushed again (needs_push)."""
    if balance.reported is not None and at <= balance.reported.at:
        return None
    target = target_quantity(balance)
    differs = target is not None and quantity != target and (balance.pushed is None or at > balance.pushed.at)
    return replace(balance, reported=Reported(quantity, at), corrections=balance.corrections + (1 if differs else 0))


# --- how to reach Amazon ---------------------------------------------------------------------

PATCH_AT_MOST = 25  # patchListingsItem runs at 5/s: 25 changes are 5 s of Amazon's budget
FEED_AT_MOST = 10_000  # messages in one JSON_LISTINGS_FEED (Amazon takes up to 25,000)


class Door(str, Enum):
    PATCH = "patch"
    FEED = "feed"


def door(changed: int) -> Door:
    """A few changes go one by one through patchListingsItem (each reaches Amazon within
    seconds); more go as one JSON_LISTINGS_FEED (createFeed allows one every two minutes, and a
    feed carries thousands), so 10,000 changes cost a handful of calls, never 10,000 patches."""
    return Door.PATCH if changed <= PATCH_AT_MOST else Door.FEED
