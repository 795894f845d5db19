"""The stock table (PynamoDB), keyed (pk, sk):

    pk                          sk                  what
    sku#<seller>#<sku>          balance             the SKU's balances, settings, Amazon's side (one item)
    sku#<seller>#<sku>          entry#<entry id>    an immutable ledger entry
    item#<seller>#<order>       <order item id>     a merchant order item as stock merged it (rules.ItemStock)
    feed#<seller>               <feed id>           a JSON_LISTINGS_FEED sent, and what its report said
    feed#<seller>               slot                while a listings feed is on its way (one at a time)
    import#<seller>             <file sha256>       a CSV of counts imported, and what it applied

Every movement is one transaction: the balance is put on the version it was read with, the
entries are put only if they are not there yet (an entry id is its cause's: a duplicate finds
it), and an order item's record on its own version. A lost race reads again and retries; a
duplicate changes nothing.

Sparse indexes (keys only; the listing reads the balances by key):
    by_state     `<seller>#<state>`  (rules.State)          GET /stock?state=out|discontinued|invalid
    by_reorder   seller, while on the reorder list           ?state=reorder|low
    by_oversold  seller, while reserved exceeds on hand      ?state=oversold
    by_push      seller, while Amazon's quantity must follow  the push schedule
"""
from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from functools import cache
from typing import Any

from pynamodb.attributes import BinaryAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib import config, resources
from chalicelib.core.dynamo import PackedJSONAttribute, models_builder, unless_refused
from chalicelib.core.times import iso, parse_iso
from chalicelib.flows.stock import rules
from chalicelib.flows.stock.rules import Balance, Entry, Fba, ItemStock, Kind, Push, Reported, Settings


@dataclass(frozen=True)
class _StockModels:
    row: Any  # built at run time (the table name comes from the environment)


@models_builder
@cache
def _stock_models() -> _StockModels:
    class ByState(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_state"
            projection = KeysOnlyProjection()

        state_seller = UnicodeAttribute(hash_key=True)
        sku = UnicodeAttribute(range_key=True)

    class ByReorder(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_reorder"
            projection = KeysOnlyProjection()

        reorder_seller = UnicodeAttribute(hash_key=True)
        sku = UnicodeAttribute(range_key=True)

    class ByOversold(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_oversold"
            projection = KeysOnlyProjection()

        oversold_seller = UnicodeAttribute(hash_key=True)
        sku = UnicodeAttribute(range_key=True)

    class BySeller(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_seller"
            projection = KeysOnlyProjection()

        listed_seller = UnicodeAttribute(hash_key=True)  # balances only, not their entries
        sku = UnicodeAttribute(range_key=True)

    class ByPush(GlobalSecondaryIndex):
        class Meta:
            index_name = "by_push"
            projection = KeysOnlyProjection()

        push_seller = UnicodeAttribute(hash_key=True)
        push_key = UnicodeAttribute(range_key=True)  # <since>#<sku>: the longest waiting first

    class StockRow(Model):
        class Meta:
            table_name = config.table_name(resources.STOCK)

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        seller_id = UnicodeAttribute(null=True)
        sku = UnicodeAttribute(null=True)
        # Compressed: a balance carries its latest entries and a day of movements, written in a
        # transaction (twice its KB) at every movement; items written before (JSON text) still read.
        data = PackedJSONAttribute(null=True)
        version = NumberAttribute(null=True)
        on_hand = NumberAttribute(null=True)
        reserved = NumberAttribute(null=True)
        available = NumberAttribute(null=True)
        listed_seller = UnicodeAttribute(null=True)
        state_seller = UnicodeAttribute(null=True)
        reorder_seller = UnicodeAttribute(null=True)
        oversold_seller = UnicodeAttribute(null=True)
        push_seller = UnicodeAttribute(null=True)
        push_key = UnicodeAttribute(null=True)
        blob = BinaryAttribute(null=True, legacy_encoding=False)
        updated_at = UnicodeAttribute(null=True)

        by_seller = BySeller()
        by_state = ByState()
        by_reorder = ByReorder()
        by_oversold = ByOversold()
        by_push = ByPush()

    return _StockModels(StockRow)


def balance_pk(seller_id: str, sku: str) -> str:
    return f"sku#{seller_id}#{sku}"


# --- (de)serialising -------------------------------------------------------------------------

def _time(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def _moment(value: Any) -> datetime | None:
    return parse_iso(value) if isinstance(value, str) else None


def entry_json(e: Entry) -> dict[str, Any]:
    return {"id": e.entry_id, "kind": e.kind.value, "at": iso(e.at), "onHandDelta": e.on_hand_delta,
            "reservedDelta": e.reserved_delta, "cause": dict(e.cause), "counted": e.counted, "stale": e.stale,
            "oversold": e.oversold, "onHand": e.on_hand, "reserved": e.reserved, "available": e.available}


def entry_of(data: Mapping[str, Any]) -> Entry:
    at = _moment(data["at"])
    assert at is not None
    return Entry(data["id"], Kind(data["kind"]), at, int(data["onHandDelta"]), int(data["reservedDelta"]),
                 dict(data.get("cause") or {}), bool(data.get("counted")), bool(data.get("stale")),
                 bool(data.get("oversold")), int(data.get("onHand", 0)), int(data.get("reserved", 0)),
                 int(data.get("available", 0)))


def _push_json(p: Push | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"quantity": p.quantity, "at": iso(p.at), "via": p.via, "status": p.status, "reference": p.reference,
            "message": p.message}


def _push_of(data: Mapping[str, Any] | None) -> Push | None:
    if not data:
        return None
    at = _moment(data["at"])
    assert at is not None
    return Push(int(data["quantity"]), at, data["via"], data["status"], data.get("reference"), data.get("message"))


def balance_json(b: Balance) -> dict[str, Any]:
    return {
        "settings": {"buffer": b.settings.buffer, "reorderPoint": b.settings.reorder_point,
                     "discontinued": b.settings.discontinued},
        "managed": b.managed, "countAt": _time(b.count_at),
        "recent": [[iso(at), delta] for at, delta in b.recent], "invalid": b.invalid,
        "fba": {m: {"fulfillable": f.fulfillable, "inbound": f.inbound, "reserved": f.reserved,
                    "unfulfillable": f.unfulfillable, "at": _time(f.at)} for m, f in b.fba.items()},
        "pushed": _push_json(b.pushed),
        "reported": {"quantity": b.reported.quantity, "at": iso(b.reported.at)} if b.reported else None,
        "corrections": b.corrections, "drift": b.drift, "latest": [entry_json(e) for e in b.latest]}


def balance_of(seller_id: str, sku: str, on_hand: int, reserved: int, version: int,
               data: Mapping[str, Any]) -> Balance:
    settings = data.get("settings") or {}
    reported = data.get("reported")
    reported_at = _moment(reported["at"]) if reported else None
    return Balance(
        seller_id, sku, on_hand, reserved,
        Settings(int(settings.get("buffer", 0)), settings.get("reorderPoint"), bool(settings.get("discontinued"))),
        bool(data.get("managed")), _moment(data.get("countAt")),
        tuple((m, int(d)) for at, d in data.get("recent") or [] if (m := _moment(at)) is not None),
        data.get("invalid"),
        {m: Fba(int(f["fulfillable"]), int(f["inbound"]), int(f["reserved"]), int(f["unfulfillable"]),
                _moment(f.get("at"))) for m, f in (data.get("fba") or {}).items()},
        _push_of(data.get("pushed")),
        Reported(int(reported["quantity"]), reported_at) if reported and reported_at else None,
        int(data.get("corrections", 0)), int(data.get("drift", 0)),
        tuple(entry_of(e) for e in data.get("latest") or []), version, _moment(data.get("pushSince")))


def _of_row(row: Any) -> Balance:
    seller_id, sku = row.seller_id, row.sku
    return balance_of(seller_id, sku, int(row.on_hand or 0), int(row.reserved or 0), int(row.version or 0),
                      row.data or {})


# A listings feed's slot is held from the schedule's run until its feed is created; a slot held
# longer than this was lost with its task.
FEED_SLOT = timedelta(minutes=15)


class Written(str, Enum):
    OK = "ok"
    DUPLICATE = "duplicate"  # an entry of it is already in the ledger: nothing changed
    CONFLICT = "conflict"  # the balance (or the item) moved since it was read: read again


class Busy(Exception):
    """A SKU changed by so many writers at once that a movement lost every attempt (retried later)."""


class DynamoStock:
    def __init__(self, reorder_default: int = 0):
        self.reorder_default = reorder_default

    @staticmethod
    def _row() -> Any:
        return _stock_models().row

    # --- balances ---------------------------------------------------------------------------
    def get(self, seller_id: str, sku: str) -> Balance | None:
        try:
            row = self._row().get(balance_pk(seller_id, sku), "balance", consistent_read=True)
        except DoesNotExist:
            return None
        return _of_row(row)

    def get_many(self, seller_id: str, skus: list[str]) -> dict[str, Balance]:
        found: dict[str, Balance] = {}
        for start in range(0, len(skus), 100):
            keys = [(balance_pk(seller_id, sku), "balance") for sku in skus[start:start + 100]]
            for row in self._row().batch_get(keys, consistent_read=True):
                found[row.sku] = _of_row(row)
        return found

    def _balance_attributes(self, b: Balance, now: datetime) -> dict[str, Any]:
        """The balance row's attributes, the sparse index keys among them."""
        state = rules.state_of(b)
        attributes: dict[str, Any] = {
            "seller_id": b.seller_id, "sku": b.sku, "data": balance_json(b), "version": b.version,
            "on_hand": b.on_hand, "reserved": b.reserved, "available": b.available, "listed_seller": b.seller_id,
            "state_seller": f"{b.seller_id}#{state.value}", "updated_at": iso(now)}
        if rules.needs_reorder(b, self.reorder_default):
            attributes["reorder_seller"] = b.seller_id
        if b.oversold > 0:
            attributes["oversold_seller"] = b.seller_id
        if rules.needs_push(b):
            # The key keeps its first time while the SKU waits, so the longest waiting go first.
            since = iso(b.push_since or now)
            attributes["push_seller"] = b.seller_id
            attributes["push_key"] = f"{since}#{b.sku}"
            attributes["data"] = {**attributes["data"], "pushSince": since}
        return attributes

    def write(self, before: Balance | None, after: Balance, entries: list[Entry], now: datetime,
              item: tuple[ItemStock | None, ItemStock] | None = None) -> Written:
        """Put `after` on the version `before` was read with, with its new entries (each only if
        new) and the order item's new record (on its version)."""
        Row = _stock_models().row
        row = Row(balance_pk(after.seller_id, after.sku), "balance", **self._balance_attributes(after, now))
        # A balance read is written on its version (0 too: a SKU an order item's record created
        # before any movement); one never read, only if none was written meanwhile.
        condition = Row.pk.does_not_exist() if before is None else Row.version == before.version
        try:
            with TransactWrite(connection=Row._get_connection().connection) as transaction:
                transaction.save(row, condition=condition)
                for entry in entries:
                    transaction.save(Row(balance_pk(after.seller_id, after.sku), f"entry#{entry.entry_id}",
                                         seller_id=after.seller_id, sku=after.sku, data=entry_json(entry),
                                         updated_at=iso(now)), condition=Row.pk.does_not_exist())
                if item is not None:
                    old, new = item
                    transaction.save(Row(f"item#{after.seller_id}#{new.order_id}", new.order_item_id,
                                         seller_id=after.seller_id, sku=new.sku, version=new.version, data={
                                             "ordered": new.ordered, "consumed": new.consumed,
                                             "cancelled": new.cancelled}, updated_at=iso(now)),
                                     condition=Row.pk.does_not_exist() if old is None else Row.version == old.version)
        except TransactWriteError as refused:
            codes = [getattr(r, "code", None) for r in (refused.cancellation_reasons or [])]
            if not any(code == "ConditionalCheckFailed" for code in codes):
                raise
            if any(code == "ConditionalCheckFailed" for code in codes[1:1 + len(entries)]) and \
                    codes[0] != "ConditionalCheckFailed":
                return Written.DUPLICATE
            return Written.CONFLICT
        return Written.OK

    # --- order items --------------------------------------------------------------------------
    def item(self, seller_id: str, order_id: str, order_item_id: str) -> ItemStock | None:
        try:
            row = self._row().get(f"item#{seller_id}#{order_id}", order_item_id, consistent_read=True)
        except DoesNotExist:
            return None
        data = row.data or {}
        return ItemStock(order_id, order_item_id, row.sku, int(data.get("ordered", 0)), int(data.get("consumed", 0)),
                         bool(data.get("cancelled")), int(row.version or 0))

    # --- lists --------------------------------------------------------------------------------
    def page(self, seller_id: str, state: str | None, limit: int,
             start: dict[str, Any] | None) -> tuple[list[Balance], dict[str, Any] | None]:
        """One page of a seller's SKUs in a state (rules.State value, or reorder, oversold), by
        SKU; with no state, every SKU."""
        Row = self._row()
        if state is None:
            results = Row.by_seller.query(seller_id, page_size=limit, last_evaluated_key=start)
        elif state == "reorder":
            results = Row.by_reorder.query(seller_id, page_size=limit, last_evaluated_key=start)
        elif state == "oversold":
            results = Row.by_oversold.query(seller_id, page_size=limit, last_evaluated_key=start)
        else:
            results = Row.by_state.query(f"{seller_id}#{state}", page_size=limit, last_evaluated_key=start)
        try:
            page = next(results.page_iter)
        except StopIteration:
            return [], None
        skus = [item["sku"]["S"] for item in page.get("Items", [])]
        found = self.get_many(seller_id, skus)
        return [found[s] for s in skus if s in found], results.page_iter.last_evaluated_key

    def waiting_push(self, seller_id: str, limit: int) -> list[str]:
        """SKUs whose quantity Amazon must get, the longest waiting first."""
        Row = self._row()
        # Pages of at most 1,000 keys, well under DynamoDB's 1 MB a page (moto skipped keys past it).
        return [row.push_key.split("#", 1)[1]
                for row in Row.by_push.query(seller_id, limit=limit, page_size=min(limit, 1000))]

    def counts(self, seller_id: str) -> dict[str, int]:
        Row = self._row()
        return {"outOfStock": int(Row.by_state.count(f"{seller_id}#{rules.State.OUT_OF_STOCK.value}")),
                "invalid": int(Row.by_state.count(f"{seller_id}#{rules.State.INVALID.value}")),
                "reorder": int(Row.by_reorder.count(seller_id)),
                "oversold": int(Row.by_oversold.count(seller_id)),
                "waitingPush": int(Row.by_push.count(seller_id))}

    # --- feeds and imports --------------------------------------------------------------------
    def save_feed(self, seller_id: str, feed_id: str, record: Mapping[str, Any], messages: list[dict[str, Any]],
                  now: datetime) -> None:
        Row = self._row()
        Row(f"feed#{seller_id}", feed_id, seller_id=seller_id, data=dict(record),
            blob=gzip.compress(json.dumps(messages, separators=(",", ":")).encode(), mtime=0),
            updated_at=iso(now)).save()

    def feed(self, seller_id: str, feed_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        try:
            row = self._row().get(f"feed#{seller_id}", feed_id, consistent_read=True)
        except DoesNotExist:
            return None
        messages = json.loads(gzip.decompress(row.blob)) if row.blob else []
        return dict(row.data or {}), messages

    def update_feed(self, seller_id: str, feed_id: str, record: Mapping[str, Any], now: datetime) -> None:
        Row = self._row()
        Row(f"feed#{seller_id}", feed_id).update(actions=[Row.data.set(dict(record)), Row.updated_at.set(iso(now))])

    def feed_slot(self, seller_id: str, now: datetime) -> bool:
        """Take the seller's listings-feed slot (False: a feed is on its way, taken less than
        FEED_SLOT ago; a slot older than that was lost with its task and is taken again)."""
        Row = _stock_models().row
        with unless_refused() as written:
            Row(f"feed#{seller_id}", "slot").update(
                actions=[Row.updated_at.set(iso(now)), Row.seller_id.set(seller_id)],
                condition=Row.updated_at.does_not_exist() | (Row.updated_at < iso(now - FEED_SLOT)))
        return written.ok

    def free_feed_slot(self, seller_id: str) -> None:
        Row = _stock_models().row
        Row(f"feed#{seller_id}", "slot").update(actions=[Row.updated_at.remove()])

    def imported(self, seller_id: str, digest: str) -> dict[str, Any] | None:
        try:
            row = self._row().get(f"import#{seller_id}", digest, consistent_read=True)
        except DoesNotExist:
            return None
        return dict(row.data or {})

    def remember_import(self, seller_id: str, digest: str, record: Mapping[str, Any], now: datetime) -> None:
        Row = self._row()
        Row(f"import#{seller_id}", digest, seller_id=seller_id, data=dict(record), updated_at=iso(now)).save()


def retrying(attempt: Any, attempts: int = 40) -> Any:
    """Run `attempt()` until it returns something other than CONFLICT, pausing a random,
    growing moment between tries so racing writers spread out."""
    for conflicts in range(attempts):
        outcome = attempt()
        if outcome is not Written.CONFLICT:
            return outcome
        time.sleep(random.uniform(0, 0.004 * 2 ** min(conflicts, 7)))
    raise Busy(f"{attempts} attempts lost to concurrent changes of the same SKU")
