"""The orders flow's storage (PynamoDB): the orders table and the buyer-data table. The models
stay private to this module: callers see the flow's rules' objects and typed errors only.

Orders table, one item per order (`order_id`): the current state (status, change key, items,
windows), the timeline (each change's status, time and notification id), the change ids already
applied (status and time: a repeat is refused by the write's condition), and the money from
getOrder (`details`, packed JSON). One index lists a seller's orders by update time
(`by_seller_listed`; `updated_key` = `<updated at>#<order id>` keeps the sort total), all of
them or those of a status, marketplace or Amazon update time by a filter: it carries the keys
and a page's filters only (resources.ORDERS_LISTED_BY), and a page is read from the table after.

Buyer-data table, one item per order: the buyer's personal data, sealed under a data key
(core/datakeys.py), deleted 30 days after delivery by the purge (an index by expiry day), with
DynamoDB's TTL as a second net.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import DoesNotExist
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib import config, resources
from chalicelib.core.datakeys import DataKeys
from chalicelib.core.dynamo import PackedJSONAttribute, TellsWhatRefused, models_builder, unless_refused
from chalicelib.core.money import Money
from chalicelib.core.times import iso, parse_iso, utc
from chalicelib.flows.orders.rules import (
    Applied,
    Attention,
    LineMoney,
    Order,
    OrderChange,
    OrderDetails,
    OrderLine,
    OrderStatus,
    Package,
    Refused,
    Stored,
    TimelineEntry,
    awaits_merchant_shipping,
    change_id,
)


class _TimelineMap(MapAttribute):
    status = UnicodeAttribute()
    at = UnicodeAttribute()
    notification_id = UnicodeAttribute()
    source = UnicodeAttribute(null=True)  # absent for an ORDER_CHANGE (most): 19 bytes a change


def _timeline_item(status: OrderStatus, at: datetime, notification_id: str, source: str) -> _TimelineMap:
    return _TimelineMap(status=status.value, at=iso(at), notification_id=notification_id,
                        source=None if source == "ORDER_CHANGE" else source)


@dataclass(frozen=True)
class _OrderModels:
    # Any: the model classes are built at run time (table names from the environment): mypy cannot see their fields.
    order: Any
    buyer: Any


@models_builder
@cache
def _order_models() -> _OrderModels:
    # The list index projects the keys and what a page filters on, not the order: every change
    # moves an order in it (a delete and a put), and a whole-row projection paid for the row
    # again. A page reads its orders from the table (one BatchGetItem).
    class BySellerListed(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_seller_listed"
            projection = IncludeProjection(list(resources.ORDERS_LISTED_BY))

        seller_id = UnicodeAttribute(hash_key=True)
        updated_key = UnicodeAttribute(range_key=True)

    class ByShipBy(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_ship_by"
            projection = IncludeProjection(["ship_by_alerted"])

        ship_by_seller = UnicodeAttribute(hash_key=True)
        ship_by_key = UnicodeAttribute(range_key=True)

    class OrderRow(TellsWhatRefused, Model):
        class Meta:
            table_name = config.table_name(resources.ORDERS)

        order_id = UnicodeAttribute(hash_key=True)
        seller_id = UnicodeAttribute()
        marketplace_id = UnicodeAttribute(null=True)
        status = UnicodeAttribute()
        seller_status = UnicodeAttribute(null=True)  # a former index's key (<seller>#<status>): a change removes it
        change_key = UnicodeAttribute()
        updated_at = UnicodeAttribute()
        updated_key = UnicodeAttribute()
        created_at = UnicodeAttribute()
        fulfillment_channel = UnicodeAttribute(null=True)
        order_type = UnicodeAttribute(null=True)
        is_business = BooleanAttribute(default=False)
        is_prime = BooleanAttribute(default=False)
        purchase_date = UnicodeAttribute(null=True)
        windows = JSONAttribute(null=True)  # ship-by and deliver-by, ISO strings
        lines = JSONAttribute(null=True)
        timeline = ListAttribute(of=_TimelineMap, null=True)
        notification_ids = UnicodeSetAttribute(null=True)  # no longer written: the timeline names them
        change_ids = UnicodeSetAttribute(null=True)  # status and time of each change applied (rules.change_id)
        details = PackedJSONAttribute(null=True)  # compressed: a third of the item's write units
        details_status = UnicodeAttribute(null=True)
        details_as_of = UnicodeAttribute(null=True)
        attention = JSONAttribute(null=True)  # {"reason", "since"}: its money could not be taken as exact
        applied_changes = NumberAttribute(default=0)  # atomic counter: 1 after the creating change
        # The seller while Amazon waits for the seller to ship it (rules.awaits_merchant_shipping),
        # absent otherwise; and <latest ship date>#<order id>: the sparse index by_ship_by.
        ship_by_seller = UnicodeAttribute(null=True)
        ship_by_key = UnicodeAttribute(null=True)
        ship_by_alerted = UnicodeSetAttribute(null=True)  # the ship-by alerts sent for it: due, late

        by_seller_listed = BySellerListed()
        by_ship_by = ByShipBy()

    class ByExpiry(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_expiry"
            projection = KeysOnlyProjection()

        expiry_day = UnicodeAttribute(hash_key=True)
        order_id = UnicodeAttribute(range_key=True)

    class BuyerDataRow(Model):
        class Meta:
            table_name = config.table_name(resources.BUYER_DATA)

        order_id = UnicodeAttribute(hash_key=True)
        seller_id = UnicodeAttribute()
        ciphertext = UnicodeAttribute()  # core/datakeys.py: sealed under a data key (or, before, by KMS itself)
        as_of = UnicodeAttribute()
        expires_at = TTLAttribute()  # DynamoDB's TTL: a second net behind the purge
        expiry_day = UnicodeAttribute(null=True)  # YYYY-MM-DD of expires_at: the purge's index
        delivered_at = UnicodeAttribute(null=True)  # once known, the expiry never moves later

        by_expiry = ByExpiry()

    return _OrderModels(OrderRow, BuyerDataRow)


# --- orders -----------------------------------------------------------------------------

def _windows_to_json(ship_by, deliver_by) -> dict[str, str | None]:
    def fmt(moment):
        return iso(moment) if moment else None
    return {
        "ship_by_earliest": fmt(ship_by[0]), "ship_by_latest": fmt(ship_by[1]),
        "deliver_by_earliest": fmt(deliver_by[0]), "deliver_by_latest": fmt(deliver_by[1]),
    }


def _lines_to_json(lines: Iterable[OrderLine]) -> list[dict[str, Any]]:
    return [
        {"order_item_id": line.order_item_id, "sku": line.sku, "quantity": line.quantity,
         "quantity_shipped": line.quantity_shipped}
        for line in lines
    ]


def _money_json(value: Money | None) -> dict[str, str] | None:
    return value.to_dict() if value is not None else None


def _money(value: dict[str, str] | None) -> Money | None:
    return Money.from_dict(value) if value else None


def details_to_json(details: OrderDetails) -> dict[str, Any]:
    return {
        "as_of": iso(details.as_of),
        "status": details.status.value,
        "currency": details.currency,
        "grand_total": _money_json(details.grand_total),
        "breakdown": {kind: m.to_dict() for kind, m in details.breakdown.items()},
        "lines": [
            {
                "order_item_id": line.order_item_id, "sku": line.sku, "asin": line.asin, "title": line.title,
                "quantity": line.quantity, "unit_price": _money_json(line.unit_price), "item": _money_json(line.item),
                "shipping": _money_json(line.shipping), "discount": _money_json(line.discount),
                "tax": _money_json(line.tax),
                "item_tax": _money_json(line.item_tax), "shipping_tax": _money_json(line.shipping_tax),
                "total": _money_json(line.total), "promotion_ids": list(line.promotion_ids),
                "gift_wrap": _money_json(line.gift_wrap), "gift_wrap_tax": _money_json(line.gift_wrap_tax),
                "discount_tax": _money_json(line.discount_tax),
            }
            for line in details.lines
        ],
        "packages": [
            {"package_reference_id": p.package_reference_id, "carrier": p.carrier, "tracking_number": p.tracking_number,
             "ship_time": iso(p.ship_time) if p.ship_time else None, "status": p.status,
             "items": [[item_id, units] for item_id, units in p.items]}
            for p in details.packages
        ],
        "programs": list(details.programs),
        "marketplace_id": details.marketplace_id,
        "fulfilled_by": details.fulfilled_by,
        "created_time": iso(details.created_time) if details.created_time else None,
    }


def details_from_json(data: dict[str, Any]) -> OrderDetails:
    return OrderDetails(
        as_of=datetime.fromisoformat(data["as_of"]),
        status=OrderStatus(data["status"]),
        currency=data.get("currency"),
        grand_total=_money(data.get("grand_total")),
        breakdown={kind: Money.from_dict(m) for kind, m in (data.get("breakdown") or {}).items()},
        lines=tuple(
            LineMoney(
                order_item_id=line["order_item_id"], sku=line.get("sku"), asin=line.get("asin"),
                title=line.get("title"), quantity=int(line.get("quantity") or 0),
                unit_price=_money(line.get("unit_price")), item=_money(line.get("item")),
                shipping=_money(line.get("shipping")), discount=_money(line.get("discount")),
                tax=_money(line.get("tax")),
                item_tax=_money(line.get("item_tax")), shipping_tax=_money(line.get("shipping_tax")),
                total=_money(line.get("total")), promotion_ids=tuple(line.get("promotion_ids") or ()),
                gift_wrap=_money(line.get("gift_wrap")), gift_wrap_tax=_money(line.get("gift_wrap_tax")),
                discount_tax=_money(line.get("discount_tax")),
            )
            for line in data.get("lines") or []
        ),
        packages=tuple(
            Package(p["package_reference_id"], p.get("carrier"), p.get("tracking_number"),
                    parse_iso(p.get("ship_time")), p.get("status"),
                    tuple((str(i[0]), int(i[1])) for i in p.get("items") or ()))
            for p in data.get("packages") or []
        ),
        programs=tuple(data.get("programs") or ()),
        marketplace_id=data.get("marketplace_id"),
        fulfilled_by=data.get("fulfilled_by"),
        created_time=parse_iso(data.get("created_time")),
    )


def _order_from_row(row: Any) -> Order:  # Any: an OrderRow, a class built at run time (_order_models)
    windows = row.windows or {}
    return Order(
        seller_id=row.seller_id,
        order_id=row.order_id,
        marketplace_id=row.marketplace_id,
        status=OrderStatus(row.status),
        change_key=row.change_key,
        updated_at=datetime.fromisoformat(row.updated_at),
        fulfillment_channel=row.fulfillment_channel,
        order_type=row.order_type,
        is_business=bool(row.is_business),
        is_prime=bool(row.is_prime),
        purchase_date=parse_iso(row.purchase_date),
        ship_by=(parse_iso(windows.get("ship_by_earliest")), parse_iso(windows.get("ship_by_latest"))),
        deliver_by=(parse_iso(windows.get("deliver_by_earliest")), parse_iso(windows.get("deliver_by_latest"))),
        lines=tuple(
            OrderLine(line["order_item_id"], line.get("sku"), int(line.get("quantity") or 0),
                      int(line.get("quantity_shipped") or 0))
            for line in row.lines or []
        ),
        timeline=tuple(
            sorted(
                (TimelineEntry(OrderStatus(e.status), datetime.fromisoformat(e.at), e.notification_id,
                               e.source or "ORDER_CHANGE")
                 for e in row.timeline or []),
                key=lambda e: e.at,
            )
        ),
        details=details_from_json(row.details) if row.details else None,
        attention=(Attention(str(row.attention["reason"]), datetime.fromisoformat(row.attention["since"]))
                   if row.attention else None),
    )


@dataclass(frozen=True)
class DueOrder:
    order_id: str
    seller_id: str
    latest_ship_date: datetime
    alerted: frozenset[str]  # the ship-by alerts sent for it (shipments/shipby.py marks)
    ship_by_key: str = ""  # the index key read, which a mark is conditioned on


def _stored(row: Any) -> Stored:
    details_status = OrderStatus(row.details_status) if row.details_status else None
    order = _order_from_row(row)
    # The notifications seen are the timeline's (an order stored before it had them as a set too).
    seen = {entry.notification_id for entry in order.timeline} | set(row.notification_ids or ())
    return order, details_status, frozenset(seen)


# Index keys a filtered list page reads at most to fill itself: about 150 bytes each, so
# some 18 read units (eventually consistent, 4 KB each for half a unit) in one request.
FILTERED_READ = 1000


class DynamoOrders:
    """The orders table. Every write that can race is one conditional request."""

    def apply_change(self, change: OrderChange, now: datetime) -> Applied | Refused:
        """Create or update the order from `change` if it is newer than what is stored.

        One UpdateItem, conditioned on the stored change key and seller: a duplicate, an older
        change or one naming another seller fails the condition, nothing is written, and the
        order as it stood comes back with the refusal (no read)."""
        Row = _order_models().order
        updated_at = iso(now)
        entry = _timeline_item(change.status, change.changed_at, change.notification_id, change.source)
        actions = [
            Row.seller_id.set(change.seller_id),
            Row.status.set(change.status.value),
            Row.seller_status.remove(),
            Row.change_key.set(change.key),
            Row.updated_at.set(updated_at),
            Row.updated_key.set(f"{updated_at}#{change.order_id}"),
            Row.created_at.set(Row.created_at | updated_at),
            Row.is_business.set(change.is_business),
            Row.is_prime.set(change.is_prime),
            Row.timeline.set((Row.timeline | []).append([entry])),
            Row.change_ids.add({change_id(change.status, change.changed_at)}),
            Row.applied_changes.add(1),
        ]
        optional = [
            (Row.marketplace_id, change.marketplace_id),
            (Row.fulfillment_channel, change.fulfillment_channel),
            (Row.order_type, change.order_type),
            (Row.purchase_date, iso(change.purchase_date) if change.purchase_date else None),
        ]
        actions += [attr.set(value) for attr, value in optional if value is not None]
        if any(change.ship_by) or any(change.deliver_by):
            actions.append(Row.windows.set(_windows_to_json(change.ship_by, change.deliver_by)))
        if change.lines:
            actions.append(Row.lines.set(_lines_to_json(change.lines)))
        awaits = awaits_merchant_shipping(change.status, change.fulfillment_channel)
        if awaits is False:
            actions.append(Row.ship_by_seller.remove())
        elif awaits:
            actions.append(Row.ship_by_seller.set(change.seller_id))
        if change.ship_by[1] is not None:
            actions.append(Row.ship_by_key.set(f"{iso(change.ship_by[1])}#{change.order_id}"))
        row = Row(change.order_id)
        refused: list[dict[str, Any]] = []
        with unless_refused() as written:
            # An order never changes seller: a change naming another seller is refused like a stale one.
            row.update(actions=actions, condition=Row.order_id.does_not_exist()
                       | ((Row.change_key < change.key) & (Row.seller_id == change.seller_id)), refused=refused)
        if not written.ok:
            return Refused(_stored(Row.from_raw_data(refused[0])) if refused else None)
        if awaits is None and awaits_merchant_shipping(change.status, row.fulfillment_channel) \
                and row.ship_by_seller is None:
            # The change did not say who fulfils it; the stored order does (a second write, rare:
            # Amazon's notifications and getOrder name the channel).
            with unless_refused():
                row.update(actions=[Row.ship_by_seller.set(change.seller_id)],
                           condition=Row.change_key == change.key)
        details_status = OrderStatus(row.details_status) if row.details_status else None
        return Applied(order=_order_from_row(row), created=row.applied_changes == 1, details_status=details_status)

    def due(self, seller_id: str, before: datetime, limit: int,
            start: dict[str, Any] | None) -> tuple[list[DueOrder], dict[str, Any] | None]:
        """A seller's merchant orders Amazon still waits for, whose latest ship date is before
        `before`, the most urgent first, with the ship-by alerts already sent for each, and the
        key the next page starts after (None on the last page). One request per page."""
        Row = _order_models().order
        results = Row.by_ship_by.query(seller_id, range_key_condition=Row.ship_by_key < iso(before),
                                       page_size=limit, last_evaluated_key=start)
        try:
            page = next(results.page_iter)
        except StopIteration:
            return [], None
        found = []
        for item in page.get("Items", []):
            moment, _, order_id = item["ship_by_key"]["S"].partition("#")
            found.append(DueOrder(order_id, seller_id, datetime.fromisoformat(moment),
                                  frozenset(item.get("ship_by_alerted", {}).get("SS", ())), item["ship_by_key"]["S"]))
        return found, results.page_iter.last_evaluated_key

    def mark_alerted(self, order_id: str, mark: str, ship_by_key: str) -> bool:
        """Note that a ship-by alert of the order is being sent: False when it was already (at
        most once per order and mark, whatever runs at once), or when the order no longer waits
        (shipped, or its date moved, since the index was read)."""
        Row = _order_models().order
        with unless_refused() as written:
            Row(order_id).update(actions=[Row.ship_by_alerted.add({mark})],
                                 condition=Row.ship_by_seller.exists() & (Row.ship_by_key == ship_by_key)
                                 & ~Row.ship_by_alerted.contains(mark))
        return written.ok

    def unmark_alerted(self, order_id: str, mark: str) -> None:
        """The alert was certainly not sent: the next run sends it."""
        Row = _order_models().order
        Row(order_id).update(actions=[Row.ship_by_alerted.delete({mark})])

    def count_due(self, seller_id: str, before: datetime) -> int:
        Row = _order_models().order
        return int(Row.by_ship_by.count(seller_id, range_key_condition=Row.ship_by_key < iso(before)))

    def read_many(self, order_ids: list[str]) -> dict[str, Order]:
        """Orders by id (up to 100), read together; those not stored are left out."""
        Row = _order_models().order
        return {row.order_id: _order_from_row(row) for row in Row.batch_get(order_ids)} if order_ids else {}

    def get(self, order_id: str, *, consistent: bool = False) -> Stored | None:
        """The order, the status its details were read at, and the notification ids seen."""
        Row = _order_models().order
        try:
            row = Row.get(order_id, consistent_read=consistent)
        except DoesNotExist:
            return None
        return _stored(row)

    def stored_together(self, order_ids: list[str]) -> dict[str, Stored]:
        """As `get`, for up to 100 orders read together (a search page's); those not stored are
        left out."""
        Row = _order_models().order
        found = {}
        for row in Row.batch_get(list(dict.fromkeys(order_ids))) if order_ids else ():
            found[row.order_id] = _stored(row)
        return found

    def add_to_timeline(self, order_id: str, entry: TimelineEntry) -> bool:
        """Record a late change in the history without touching the current state. False when
        this notification, or the same change under another notification, is already there."""
        Row = _order_models().order
        item = _timeline_item(entry.status, entry.at, entry.notification_id, entry.source)
        change = change_id(entry.status, entry.at)
        with unless_refused() as written:
            Row(order_id).update(
                actions=[Row.timeline.set((Row.timeline | []).append([item])), Row.change_ids.add({change})],
                # Once per change (a repeated notification is the same change, and Amazon may
                # repeat a change under a new NotificationId).
                condition=Row.order_id.exists() & ~Row.change_ids.contains(change),
            )
        return written.ok

    def save_details(self, order_id: str, details: OrderDetails) -> Order | None:
        """Store the money side of an order unless a newer snapshot is already stored; the
        order as stored after it (the write returns it), None when refused."""
        Row = _order_models().order
        as_of = iso(details.as_of)
        row = Row(order_id)
        with unless_refused() as written:
            row.update(
                actions=[Row.details.set(details_to_json(details)), Row.details_status.set(details.status.value),
                         Row.details_as_of.set(as_of), Row.attention.remove()],
                condition=Row.order_id.exists() & (Row.details_as_of.does_not_exist() | (Row.details_as_of <= as_of)),
            )
        return _order_from_row(row) if written.ok else None

    def mark_read(self, order_id: str, status: OrderStatus) -> bool:
        """The details hold what Amazon would say at `status` (its packages are ours): note so,
        without a read. False when the order has no details yet."""
        Row = _order_models().order
        with unless_refused() as written:
            Row(order_id).update(actions=[Row.details_status.set(status.value)],
                                 condition=Row.order_id.exists() & Row.details.exists())
        return written.ok

    def needs_attention(self, order_id: str, reason: str, at: datetime) -> bool:
        """Mark the order as needing a person, with the reason (cleared when exact money is saved)."""
        Row = _order_models().order
        with unless_refused() as written:
            Row(order_id).update(actions=[Row.attention.set({"reason": reason, "since": iso(at)})],
                                 condition=Row.order_id.exists())
        return written.ok

    def list(self, seller_id: str, *, status: OrderStatus | None = None, marketplace_id: str | None = None,
             stored_since: datetime | None = None, amazon_updated_since: datetime | None = None, limit: int = 50,
             start: dict[str, Any] | None = None) -> tuple[list[Order], dict[str, Any] | None]:
        """Orders of a seller, most recently stored first, one page at a time: the page and the
        key the next one starts after (None on the last page). Two DynamoDB requests per page,
        whatever the filters: a Query of the index and a BatchGetItem of the page's orders (each
        billed by its own size, rounded up to 4 KB; PynamoDB asks again at once for any keys
        DynamoDB leaves unprocessed). DynamoDB filters after it reads: a filtered page reads up
        to FILTERED_READ keys (about 18 read units) to fill `limit`, and may still hold
        fewer orders, even none, and have a next page."""
        Row = _order_models().order
        range_condition = Row.updated_key >= iso(stored_since) if stored_since else None
        filters = []
        if status is not None:
            filters.append(Row.status == status.value)
        if marketplace_id:
            filters.append(Row.marketplace_id == marketplace_id)
        if amazon_updated_since:
            filters.append(Row.change_key >= iso(amazon_updated_since))
        filter_condition = None
        for condition in filters:
            filter_condition = condition if filter_condition is None else filter_condition & condition
        results = Row.by_seller_listed.query(
            seller_id, range_key_condition=range_condition, filter_condition=filter_condition,
            scan_index_forward=False, page_size=max(limit, FILTERED_READ) if filters else limit,
            last_evaluated_key=start)
        try:
            page = next(results.page_iter)  # one request, not as many as it takes to fill `limit`
        except StopIteration:
            return [], None
        items = page.get("Items", [])
        after = results.page_iter.last_evaluated_key
        if len(items) > limit:  # the next page starts after the last one kept, not the last one read
            items = items[:limit]
            after = {name: items[-1][name] for name in ("order_id", "seller_id", "updated_key")}
        listed = [item["order_id"]["S"] for item in items]
        found = self.read_many(listed)
        # The index lags the table a little: an order that has since left the status asked for
        # is in its new status's pages, not this one.
        orders = [found[order_id] for order_id in listed
                  if order_id in found and (status is None or found[order_id].status is status)]
        return orders, after


# --- buyer data ---------------------------------------------------------------------------

class DynamoBuyerData:
    """Buyer and recipient personal data, apart from the order, sealed under a data key of the
    deployment's KMS key (core/datakeys.py; the seller and order are the associated data), and
    deleted 30 days after delivery: by `purge` (the purge_buyer_data schedule), with DynamoDB's
    TTL as a second net. An expired item is never returned, purged or not."""

    def __init__(self, keys: DataKeys):
        self._keys = keys

    @staticmethod
    def _context(seller_id: str, order_id: str) -> dict[str, str]:
        return {"table": "buyer-data", "seller_id": seller_id, "order_id": order_id}

    def save(self, seller_id: str, order_id: str, personal: dict[str, Any], as_of: datetime,
             expires_at: datetime, delivered_at: datetime | None = None, now: datetime | None = None) -> None:
        """Seal and store the snapshot unless a newer one is there. One conditional write, no
        read, unless the stored item says it was delivered (its 30 days then hold, whatever a
        later snapshot promises) or is newer: then it is read and merged."""
        Row = _order_models().buyer
        moment = now or datetime.now(UTC)
        if expires_at <= moment:  # learnt late: already past its 30 days, not kept at all
            self._delete(order_id)
            return
        plaintext = json.dumps(personal, separators=(",", ":"), sort_keys=True).encode()
        sealed = self._keys.seal(plaintext, self._context(seller_id, order_id))

        def item(expiry: datetime, delivered: datetime | None) -> dict[str, Any]:
            return {"seller_id": seller_id, "ciphertext": sealed, "as_of": iso(as_of), "expires_at": expiry,
                    "expiry_day": utc(expiry).date().isoformat(), "delivered_at": iso(delivered) if delivered else None}

        row = Row(order_id, **item(expires_at, delivered_at))
        with unless_refused() as written:
            row.save(condition=Row.order_id.does_not_exist() | (
                (Row.as_of <= iso(as_of)) & Row.delivered_at.does_not_exist()))
        if written.ok:
            return
        try:
            existing = Row.get(order_id, consistent_read=True)
        except DoesNotExist:
            existing = None
        if existing is not None and existing.delivered_at:
            # Delivered: the 30 days run from then, whatever a later snapshot promises.
            expires_at = min(expires_at, existing.expires_at)
            delivered_at = delivered_at or datetime.fromisoformat(existing.delivered_at)
        if expires_at <= moment:
            self._delete(order_id)
            return
        row = Row(order_id, **item(expires_at, delivered_at))
        with unless_refused():
            row.save(condition=Row.order_id.does_not_exist() | (Row.as_of <= iso(as_of)))

    def seal_new(self, seller_id: str, key: str, personal: dict[str, Any], expires_at: datetime) -> bool:
        """Seal personal data under `key` unless something is there already (False then): for a
        writer that may seal but never open (the API handler, for an MCF order's recipient)."""
        Row = _order_models().buyer
        row = Row(key, seller_id=seller_id,
                  ciphertext=self._keys.seal(json.dumps(personal, separators=(",", ":"), sort_keys=True).encode(),
                                             self._context(seller_id, key)),
                  as_of=iso(datetime.now(UTC)), expires_at=expires_at,
                  expiry_day=utc(expires_at).date().isoformat())
        with unless_refused() as written:
            row.save(condition=Row.order_id.does_not_exist())
        return written.ok

    def shorten(self, order_id: str, expires_at: datetime, delivered_at: datetime,
                now: datetime | None = None) -> bool:
        """The order was delivered: its buyer data expires at `expires_at`, if that is sooner."""
        Row = _order_models().buyer
        if expires_at <= (now or datetime.now(UTC)):
            return self._delete(order_id)
        with unless_refused() as written:
            Row(order_id).update(actions=[Row.expires_at.set(expires_at),
                                          Row.expiry_day.set(utc(expires_at).date().isoformat()),
                                          Row.delivered_at.set(iso(delivered_at))],
                                 condition=Row.order_id.exists() & (Row.expires_at > expires_at))
        return written.ok

    def _delete(self, order_id: str) -> bool:
        Row = _order_models().buyer
        with unless_refused() as written:
            Row(order_id).delete(condition=Row.order_id.exists())
        return written.ok

    def get(self, order_id: str, now: datetime | None = None) -> dict[str, Any] | None:
        Row = _order_models().buyer
        try:
            row = Row.get(order_id)
        except DoesNotExist:
            return None
        if row.expires_at <= (now or datetime.now(UTC)):
            return None  # expired: gone for every reader, even before the purge deletes it
        context = self._context(row.seller_id, order_id)
        return dict(json.loads(self._keys.open_(row.ciphertext, context, legacy_context=context)))

    def purge(self, now: datetime, since_day: date) -> int:
        """Delete every item expired by `now`, looking at the expiry days from `since_day`."""
        Row = _order_models().buyer
        deleted = 0
        day = since_day
        while day <= utc(now).date():
            for key in Row.by_expiry.query(day.isoformat()):
                with unless_refused() as written:
                    Row(key.order_id).delete(condition=Row.expires_at <= now)
                deleted += int(written.ok)
            day += timedelta(days=1)
        return deleted
