"""In-memory ports, easy to assert on. The contract tests run the same cases against these
and the moto-backed adapters, so the fakes stay honest."""
from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.core.tasks import Task
from chalicelib.core.times import iso
from chalicelib.flows.orders.rules import (
    Applied,
    Order,
    OrderChange,
    OrderDetails,
    Refused,
    TimelineEntry,
    apply_change,
    change_id,
    timeline_with,
)


class WouldBeRefused(Exception):
    """What DynamoDB or SQS would refuse (a ValidationException, a message too long): the code
    must never get this far; the fuzz tests count it as a defect."""


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def refuse_like_dynamodb(keys: dict[str, tuple[str, int]], item: Any) -> None:
    """Key attributes non-empty and within their limits (partition 2,048 bytes, sort 1,024),
    the item within 400 KB."""
    for name, (value, limit) in keys.items():
        if not isinstance(value, str) or not value or _bytes(value) > limit:
            raise WouldBeRefused(f"DynamoDB refuses key {name} of {_bytes(str(value))} bytes")
    size = _bytes(repr(item))
    if size > 400 * 1024:
        raise WouldBeRefused(f"DynamoDB refuses an item of {size} bytes")


class FakeOrders:
    def __init__(self, strict: bool = False):
        self.rows: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.strict = strict

    def _check(self, order: Order) -> None:
        if self.strict:  # the table's key and its indexes' keys (chalicelib/flows/orders/store.py)
            refuse_like_dynamodb({"order_id": (order.order_id, 2048),
                                  "updated_key": (f"{iso(order.updated_at)}#{order.order_id}", 1024),
                                  "seller_id": (order.seller_id, 2048)}, order)

    def apply_change(self, change: OrderChange, now: datetime) -> Applied | Refused:
        row = self.rows.get(change.order_id)
        current = row["order"] if row else None
        if current is not None and current.seller_id != change.seller_id:
            return Refused(self.get(change.order_id))  # the store's condition: an order never changes seller
        new = apply_change(current, change, now)
        if new is None:
            return Refused(self.get(change.order_id))
        self._check(new)
        self.writes += 1
        if row is None:
            row = self.rows[change.order_id] = {"order": new, "details_status": None, "seen": set(), "changes": set()}
        row["order"] = replace(new, details=row["order"].details if current else None)
        row["seen"].add(change.notification_id)
        row["changes"].add(change_id(change.status, change.changed_at))
        return Applied(row["order"], current is None, row["details_status"])

    def get(self, order_id: str, *, consistent: bool = False):
        row = self.rows.get(order_id)
        if row is None:
            return None
        return row["order"], row["details_status"], frozenset(row["seen"])

    def stored_together(self, order_ids):
        return {order_id: self.get(order_id) for order_id in order_ids if order_id in self.rows}

    def add_to_timeline(self, order_id: str, entry: TimelineEntry) -> bool:
        row = self.rows.get(order_id)
        change = change_id(entry.status, entry.at)
        if row is None or entry.notification_id in row["seen"] or change in row["changes"]:
            return False
        row["seen"].add(entry.notification_id)
        row["changes"].add(change)
        row["order"] = replace(row["order"], timeline=timeline_with(row["order"].timeline, entry))
        self._check(row["order"])
        return True

    def mark_read(self, order_id, status):
        row = self.rows.get(order_id)
        if row is None or row["order"].details is None:
            return False
        row["details_status"] = status
        return True

    def save_details(self, order_id: str, details: OrderDetails) -> Order | None:
        row = self.rows.get(order_id)
        if row is None:
            return None
        current = row["order"].details
        if current is not None and iso(current.as_of) > iso(details.as_of):
            return None
        row["order"] = replace(row["order"], details=details, attention=None)
        row["details_status"] = details.status
        return row["order"]

    def needs_attention(self, order_id: str, reason: str, at: datetime) -> bool:
        from chalicelib.flows.orders.rules import Attention

        row = self.rows.get(order_id)
        if row is None:
            return False
        row["order"] = replace(row["order"], attention=Attention(reason, at))
        return True

    def list(self, seller_id, *, status=None, marketplace_id=None, stored_since=None, amazon_updated_since=None,
             limit=50, start=None):
        orders = [r["order"] for r in self.rows.values() if r["order"].seller_id == seller_id
                  and (status is None or r["order"].status == status)
                  and (marketplace_id is None or r["order"].marketplace_id == marketplace_id)
                  and (stored_since is None or r["order"].updated_at >= stored_since)
                  and (amazon_updated_since is None or r["order"].change_key >= iso(amazon_updated_since))]
        orders.sort(key=lambda o: (iso(o.updated_at), o.order_id), reverse=True)
        offset = int((start or {}).get("offset", 0))
        page = orders[offset:offset + limit]
        return page, ({"offset": offset + limit} if offset + limit < len(orders) else None)


class FakeTasks:
    def __init__(self, strict: bool = False):
        self.sent: list[tuple[Task, float]] = []
        self.strict = strict

    def enqueue(self, task: Task, delay: float = 0) -> None:
        from chalicelib.core.errors import PermanentError
        from chalicelib.core.queues import MAX_TASK_BYTES

        if _bytes(task.to_json()) > MAX_TASK_BYTES:  # as SqsTaskQueue refuses it
            raise PermanentError(f"a {task.kind[:40]} task is larger than a task may be ({MAX_TASK_BYTES})")
        self.sent.append((task, delay))

    def flush(self) -> None:
        pass

    def discard(self) -> None:
        pass

    @property
    def tasks(self) -> list[Task]:
        return [t for t, _ in self.sent]


class FakeLimiter:
    """Hands out waits from a script (default: always go)."""

    def __init__(self, waits: list[float] | None = None):
        self.waits = list(waits or [])
        self.calls: list[tuple[str, str]] = []
        self.blocks: list[int] = []
        self.released: list[tuple[str, str, int]] = []

    def reserve_block(self, seller_id: str, operation: str, count: int) -> list[float]:
        """One booking of `count` slots; the script's next wait is the first one's, the rest follow
        a second apart."""
        self.calls.append((seller_id, operation))
        self.blocks.append(count)
        first = self.waits.pop(0) if self.waits else 0.0
        return [first + i for i in range(count)] if first else [0.0] * count

    def release(self, seller_id: str, operation: str, count: int) -> bool:
        self.released.append((seller_id, operation, count))
        return True

    def lateness_allowed(self, operation: str) -> float:
        return 2.0

    def rate(self, operation: str) -> float:
        from chalicelib.core.limits import limit_for

        return limit_for(operation).rate

    queue_length = 0.0  # what `queued` answers: calls booked ahead

    def queued(self, seller_id: str, operation: str, now: float) -> float:
        return self.queue_length


class FakeSearches:
    """The search door's records (core/state.py), in memory."""

    def __init__(self):
        self.rows: dict[str, tuple[datetime, float]] = {}
        self.closed: list[str] = []
        self.opened: list[str] = []  # every open_search asked, granted or not (a conditional write each)

    def search(self, name):
        return self.rows.get(name)

    def open_search(self, name, since, until, now_s):
        self.opened.append(name)
        current = self.rows.get(name)
        if current is not None and current[1] >= now_s:
            return False
        self.rows[name] = (since, until)
        return True

    def move_search(self, name, since, until):
        self.rows[name] = (since, until)

    def close_search(self, name):
        self.rows.pop(name, None)
        self.closed.append(name)


class FakeAmazon:
    def __init__(self, orders: dict[str, dict[str, Any]] | None = None, errors: list[Exception] | None = None):
        self.orders = orders or {}
        self.errors = list(errors or [])
        self.calls: list[tuple[str, ...]] = []

    def get_order(self, seller_id, marketplace_id, order_id, included_data):
        self.calls.append(("getOrder", seller_id, order_id))
        if self.errors:
            raise self.errors.pop(0)
        from chalicelib.core.errors import PermanentError

        if order_id not in self.orders:
            raise PermanentError(f"getOrder: Amazon does not know it (NotFound: {order_id})")
        return self.orders[order_id]

    def search_orders(self, seller_id, marketplace_id, last_updated_after, next_token=None,
                      included_data=("FULFILLMENT",), statuses=(), fulfilled_by=None):
        self.calls.append(("searchOrders", seller_id, marketplace_id))
        found = [o for o in self.orders.values()
                 if (o.get("salesChannel") or {}).get("marketplaceId") == marketplace_id
                 and datetime.fromisoformat(o["lastUpdatedTime"]) >= last_updated_after]
        return found, None, "2030-01-01T00:00:00Z"


class FakeBuyerData:
    def __init__(self):
        self.saved: dict[str, dict[str, Any]] = {}

    def save(self, seller_id, order_id, personal, as_of, expires_at, delivered_at=None, now=None):
        from datetime import UTC, datetime

        if expires_at <= (now or datetime.now(UTC)):  # as the store: past its 30 days, not kept at all
            self.saved.pop(order_id, None)
            return
        existing = self.saved.get(order_id)
        if existing is not None and existing.get("delivered_at"):
            expires_at = min(expires_at, existing["expires_at"])
            delivered_at = delivered_at or existing["delivered_at"]
        self.saved[order_id] = {"seller_id": seller_id, "personal": personal, "as_of": as_of, "expires_at": expires_at,
                                "delivered_at": delivered_at}

    def shorten(self, order_id, expires_at, delivered_at, now=None):
        from datetime import UTC, datetime

        if expires_at <= (now or datetime.now(UTC)):
            return self.saved.pop(order_id, None) is not None
        row = self.saved.get(order_id)
        if row is None or row["expires_at"] <= expires_at:
            return False
        row.update(expires_at=expires_at, delivered_at=delivered_at)
        return True

    def get(self, order_id, now=None):
        from datetime import UTC, datetime

        row = self.saved.get(order_id)
        return None if row is None or row["expires_at"] <= (now or datetime.now(UTC)) else row["personal"]

    def purge(self, now, since_day):
        expired = [k for k, row in self.saved.items() if row["expires_at"] <= now]
        for key in expired:
            del self.saved[key]
        return len(expired)


class FakePollState:
    def __init__(self, sellers=None):
        self._sellers = sellers or []
        self.watermarks: dict[str, datetime] = {}

    def watermark(self, name):
        return self.watermarks.get(name)

    def set_watermark(self, name, value):
        self.watermarks[name] = value

    def sellers(self):
        return self._sellers


class FakeCallLedger:
    """The state table's call records (core/once.py), in memory, with the same conditions."""

    def __init__(self):
        from chalicelib.core.state import CallRecord

        self._record = CallRecord
        self.rows: dict[tuple[str, str], Any] = {}

    def call(self, seller_id, name):
        return self.rows.get((seller_id, name))

    def lease_call(self, seller_id, name, fingerprint, owner, now_s, lease_seconds, attempts):
        row = self.rows.get((seller_id, name))
        if row is not None and not (row.status == "intent" and (row.lease_until or 0) < now_s):
            return False
        self.rows[(seller_id, name)] = self._record("intent", owner, now_s + lease_seconds, fingerprint,
                                                    attempts=attempts)
        return True

    def release_call(self, seller_id, name, owner):
        row = self.rows.get((seller_id, name))
        if row is not None and row.status == "intent" and row.owner == owner:
            self.rows[(seller_id, name)] = replace(row, lease_until=0)

    def settle_call(self, seller_id, name, owner, status, fingerprint, result=None, reason=None, attempts=0):
        row = self.rows.get((seller_id, name))
        if row is None or row.status != "intent" or (owner is not None and row.owner != owner):
            return False
        self.rows[(seller_id, name)] = self._record(status, row.owner, None, fingerprint, result, reason, attempts)
        return True


class FakeRequestLedger:
    """The state table's Idempotency-Key records (core/idempotency.py), in memory, with the same
    conditions: a key is free when unknown, released, or claimed and its lease run out; only the
    claim's owner answers or releases it."""

    LEASE_SECONDS = 120

    def __init__(self):
        self.rows: dict[tuple[str, str], dict] = {}

    def claim_request(self, caller, name, fingerprint, at, keep, owner):
        row = self.rows.get((caller, name))
        moment = int(at.timestamp())
        if row is None or row["status"] == "released" or (
                row["status"] == "answering" and row["lease_until"] < moment):
            self.rows[(caller, name)] = {"status": "answering", "owner": owner,
                                         "lease_until": moment + self.LEASE_SECONDS,
                                         "data": {"fingerprint": fingerprint, "answer": None}}
            return None
        return dict(row["data"])

    def answer_request(self, caller, name, fingerprint, answer, owner):
        row = self.rows.get((caller, name))
        if row is not None and row["status"] == "answering" and row["owner"] == owner:
            self.rows[(caller, name)] = {"status": "answered", "owner": owner, "lease_until": None,
                                         "data": {"fingerprint": fingerprint, "answer": answer}}

    def release_request(self, caller, name, owner):
        row = self.rows.get((caller, name))
        if row is not None and row["status"] == "answering" and row["owner"] == owner:
            row["status"] = "released"


class FakeTokens:
    """The state table's named-token records, in memory."""

    def __init__(self):
        self.rows: dict[str, Any] = {}

    def put_token(self, record):
        if record.token_id in self.rows:
            return False
        self.rows[record.token_id] = record
        return True

    def token(self, token_id):
        return self.rows.get(token_id)

    def tokens(self):
        return list(self.rows.values())

    def touch_token(self, token_id, at):
        from chalicelib.core.times import iso

        if token_id in self.rows:
            self.rows[token_id] = replace(self.rows[token_id], last_used_at=iso(at))

    def revoke_token(self, token_id, at):
        from chalicelib.core.times import iso

        record = self.rows.get(token_id)
        if record is None or record.revoked_at is not None:
            return False
        self.rows[token_id] = replace(record, revoked_at=iso(at))
        return True


class FakeFulfillmentOrders:
    """The fulfillment-orders table: one record per seller and sellerFulfillmentOrderId, versioned."""

    def __init__(self, strict: bool = False):
        self.rows: dict[tuple[str, str], Any] = {}
        self.strict = strict

    def get(self, seller_id: str, fulfillment_order_id: str) -> Any:
        return self.rows.get((seller_id, fulfillment_order_id))

    def save(self, order: Any, now: datetime) -> bool:
        if self.strict:
            refuse_like_dynamodb({"seller_id": (order.seller_id, 2048),
                                  "fulfillment_order_id": (order.fulfillment_order_id, 1024)}, order)
        key = (order.seller_id, order.fulfillment_order_id)
        stored = self.rows.get(key)
        if (stored is None) != (order.version == 0) or (stored is not None and stored.version != order.version):
            return False
        self.rows[key] = replace(order, version=order.version + 1)
        return True


class FakeStock:
    """The stock store (chalicelib/flows/stock/store.py) in memory, with its conditions: the
    balance is written on the version it was read with, an entry only if new, an order item on
    its version. `conflicts` makes the next writes lose a race (the service must read again)."""

    def __init__(self, reorder_default: int = 3):
        import threading

        self.reorder_default = reorder_default
        self.balances: dict[tuple[str, str], Any] = {}
        self.entries: dict[tuple[str, str, str], Any] = {}
        self.items: dict[tuple[str, str, str], Any] = {}
        self.feeds: dict[tuple[str, str], tuple[dict, list]] = {}
        self.imports: dict[tuple[str, str], dict] = {}
        self.slots: dict[str, Any] = {}
        self.conflicts = 0
        self.writes = 0
        self.lock = threading.Lock()

    def get(self, seller_id, sku):
        return self.balances.get((seller_id, sku))

    def get_many(self, seller_id, skus):
        return {s: self.balances[(seller_id, s)] for s in skus if (seller_id, s) in self.balances}

    def write(self, before, after, entries, now, item=None):
        from chalicelib.flows.stock.store import Written

        with self.lock:
            if self.conflicts:
                self.conflicts -= 1
                return Written.CONFLICT
            held = self.balances.get((after.seller_id, after.sku))
            if (held is None) != (before is None) or (held is not None and held.version != before.version):
                return Written.CONFLICT
            if any((after.seller_id, after.sku, e.entry_id) in self.entries for e in entries):
                return Written.DUPLICATE
            if item is not None:
                old, new = item
                current = self.items.get((after.seller_id, new.order_id, new.order_item_id))
                if (current.version if current else 0) != (old.version if old else 0):
                    return Written.CONFLICT
                self.items[(after.seller_id, new.order_id, new.order_item_id)] = new
            self.balances[(after.seller_id, after.sku)] = after
            for e in entries:
                self.entries[(after.seller_id, after.sku, e.entry_id)] = e
            self.writes += 1
            return Written.OK

    def item(self, seller_id, order_id, order_item_id):
        return self.items.get((seller_id, order_id, order_item_id))

    def waiting_push(self, seller_id, limit):
        from chalicelib.flows.stock import rules

        waiting = sorted((b.push_since or b.latest[0].at if b.latest else b.push_since, b.sku)
                         for (s, _), b in self.balances.items() if s == seller_id and rules.needs_push(b))
        return [sku for _, sku in sorted(waiting, key=lambda w: str(w[0]))][:limit]

    def save_feed(self, seller_id, feed_id, record, messages, now):
        self.feeds[(seller_id, feed_id)] = (dict(record), list(messages))

    def feed(self, seller_id, feed_id):
        return self.feeds.get((seller_id, feed_id))

    def update_feed(self, seller_id, feed_id, record, now):
        self.feeds[(seller_id, feed_id)] = (dict(record), self.feeds[(seller_id, feed_id)][1])

    def feed_slot(self, seller_id, now):
        from chalicelib.flows.stock.store import FEED_SLOT

        taken = self.slots.get(seller_id)
        if taken is not None and now - taken < FEED_SLOT:
            return False
        self.slots[seller_id] = now
        return True

    def free_feed_slot(self, seller_id):
        self.slots.pop(seller_id, None)

    def imported(self, seller_id, digest):
        return self.imports.get((seller_id, digest))

    def remember_import(self, seller_id, digest, record, now):
        self.imports[(seller_id, digest)] = dict(record)


class FakeSettlements:
    """The settlements store (chalicelib/flows/settlements/store.py) in memory, with its conditions."""

    def __init__(self):
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.payments: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.noted: dict[tuple[str, str], dict[str, Any]] = {}
        self.mappings: dict[str, dict[str, Any]] = {}
        self.journal_last: dict[str, int] = {}

    def claim(self, seller_id, settlement_id, record, now):
        from chalicelib.flows.settlements.store import BLOCKED, IMPORTED, Claim

        found = self.records.get((seller_id, settlement_id))
        if found is None or (found["status"] == BLOCKED and found["file"]["sha256"] != record["file"]["sha256"]):
            self.records[(seller_id, settlement_id)] = copy.deepcopy({**record, "status": IMPORTED})
            return Claim({**record, "status": IMPORTED}, True)
        return Claim(copy.deepcopy(found), False)

    def get(self, seller_id, settlement_id):
        found = self.records.get((seller_id, settlement_id))
        return copy.deepcopy(found) if found is not None else None

    def settle(self, seller_id, settlement_id, sha256, record, from_statuses, now):
        found = self.records.get((seller_id, settlement_id))
        if found is None or found["file"]["sha256"] != sha256 or found["status"] not in from_statuses:
            return False
        refuse_like_dynamodb({"pk": (f"settlement#{seller_id}", 2048), "sk": (settlement_id, 1024)}, record)
        self.records[(seller_id, settlement_id)] = copy.deepcopy(record)
        return True

    def post(self, seller_id, settlement_id, sha256, record, from_statuses, now):
        from chalicelib.flows.settlements.store import journal_numbered

        last = self.journal_last.get(seller_id, 0)
        numbered = journal_numbered(record, last)
        if not self.settle(seller_id, settlement_id, sha256, numbered, from_statuses, now):
            return False
        self.journal_last[seller_id] = last + len(numbered["journal"]["entries"])
        return True

    def list(self, seller_id, limit=500):
        return [copy.deepcopy(r) for (s, _), r in sorted(self.records.items(), reverse=True) if s == seller_id][:limit]

    def save_payments(self, seller_id, settlement_id, payments, now):
        count = 0
        for order_id, paid in payments:
            self.payments.setdefault((seller_id, order_id), {})[settlement_id] = copy.deepcopy(paid)
            count += 1
        return count

    def payments_of(self, seller_id, order_id):
        return [{"settlementId": s, **p} for s, p in sorted(self.payments.get((seller_id, order_id), {}).items())]

    def note_report(self, seller_id, report_id, facts, now):
        if (seller_id, report_id) in self.noted:
            return False
        self.noted[(seller_id, report_id)] = {**facts, "status": "listed"}
        return True

    def report_imported(self, seller_id, report_id, settlement_id, now):
        found = self.noted.get((seller_id, report_id), {})
        self.noted[(seller_id, report_id)] = {**found, "settlementId": settlement_id, "status": "imported"}

    def noted_report(self, seller_id, report_id):
        found = self.noted.get((seller_id, report_id))
        return dict(found) if found is not None else None

    def reports(self, seller_id, limit=500):
        return [{"reportId": r, **v} for (s, r), v in sorted(self.noted.items(), reverse=True) if s == seller_id]

    def mapping(self, seller_id):
        found = self.mappings.get(seller_id)
        return copy.deepcopy(found) if found is not None else None

    def save_mapping(self, seller_id, mapping, now):
        self.mappings[seller_id] = copy.deepcopy(mapping)


class FakeFiles:
    """The settlement files (S3): gzip bytes under their key, written once."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def put(self, key, text_gzip, sha256):
        self.files.setdefault(key, text_gzip)

    def lines(self, key):
        import gzip
        import io

        return iter(io.StringIO(gzip.decompress(self.files[key]).decode("utf-8-sig"), newline=""))
