"""Stock: apply every movement once (rules.py does the arithmetic, store.py the transaction),
from the orders, the warehouse and Amazon; push Amazon's merchant quantity after
available-to-sell; reconcile FBA quantities with the FBA Inventory API."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.csvfile import RowProblem
from chalicelib.core.envelope import Notification, get
from chalicelib.core.errors import InvalidNotification, PermanentError, RetryLater
from chalicelib.core.fields import quote
from chalicelib.core.once import Call, CallLedger, call_once
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue, strongest
from chalicelib.flows.stock import imports, parsing, rules, triggers
from chalicelib.flows.stock.rules import Balance, Entry, Fba, ItemFact, ItemStock, Push, Settings
from chalicelib.flows.stock.store import Busy, Written, retrying

ORDER_STOCK = triggers.ORDER_STOCK
PUSH_LISTING = "push_listing"
PUSH_FEED = "push_feed"
SUBMIT_FEED = "submit_listings_feed"
READ_FEED_REPORT = "read_listings_report"
RECONCILE_FBA = "reconcile_fba"
REASONS = ("received", "returned", "found", "damaged", "lost", "expired", "sample", "correction", "other")
MERCHANT = "MFN"


class StockStore(Protocol):
    reorder_default: int

    def get(self, seller_id: str, sku: str) -> Balance | None: ...
    def get_many(self, seller_id: str, skus: list[str]) -> dict[str, Balance]: ...
    def write(self, before: Balance | None, after: Balance, entries: list[Entry], now: datetime,
              item: tuple[ItemStock | None, ItemStock] | None = None) -> Written: ...
    def item(self, seller_id: str, order_id: str, order_item_id: str) -> ItemStock | None: ...
    def waiting_push(self, seller_id: str, limit: int) -> list[str]: ...
    def save_feed(self, seller_id: str, feed_id: str, record: Mapping[str, Any], messages: list[dict[str, Any]],
                  now: datetime) -> None: ...
    def feed(self, seller_id: str, feed_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None: ...
    def update_feed(self, seller_id: str, feed_id: str, record: Mapping[str, Any], now: datetime) -> None: ...
    def feed_slot(self, seller_id: str, now: datetime) -> bool: ...
    def free_feed_slot(self, seller_id: str) -> None: ...
    def imported(self, seller_id: str, digest: str) -> dict[str, Any] | None: ...
    def remember_import(self, seller_id: str, digest: str, record: Mapping[str, Any], now: datetime) -> None: ...


class AmazonStock(Protocol):
    def patch_quantity(self, seller_id: str, marketplace_ids: list[str], sku: str, quantity: int) -> dict[str, Any]: ...
    def upload_feed(self, seller_id: str, marketplace_id: str, document: bytes) -> str: ...
    def create_feed(self, seller_id: str, marketplace_ids: list[str], document_id: str) -> str: ...
    def feed_report(self, seller_id: str, marketplace_id: str | None, document_id: str) -> str: ...
    def inventory_summaries(self, seller_id: str, marketplace_id: str,
                            next_token: str | None) -> tuple[list[dict[str, Any]], str | None]: ...


class OrderFacts(Protocol):
    def order_facts(self, seller_id: str, order_id: str) -> list[ItemFact] | None: ...


class Sellers(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class IntakePorts:
    stock: StockStore
    tasks: TaskQueue


@dataclass(frozen=True)
class TaskPorts:
    stock: StockStore
    tasks: TaskQueue
    slots: Slots | None = None
    ledger: CallLedger | None = None
    amazon: AmazonStock | None = None
    orders: OrderFacts | None = None
    sellers: Sellers | None = None


# --- applying one movement ----------------------------------------------------------------

@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    balance: Balance
    entries: tuple[Entry, ...] = ()


def apply(store: StockStore, seller_id: str, sku: str, change: Callable[[Balance], tuple[Balance, list[Entry]]],
          now: datetime) -> Applied:
    """Read the balance, let `change` compute the new one and its entries (rules.py), write both
    in one transaction; again after a lost race. A duplicate entry changes nothing."""
    result: list[Applied] = []

    def attempt() -> Written:
        before = store.get(seller_id, sku)
        after, entries = change(before or Balance(seller_id, sku))
        if before is not None and after == before:
            result.append(Applied(Outcome.DUPLICATE, before))
            return Written.OK
        written = store.write(before, after, entries, now)
        if written is Written.DUPLICATE:
            result.append(Applied(Outcome.DUPLICATE, before or after))
        elif written is Written.OK:
            result.append(Applied(Outcome.UPDATED if before else Outcome.CREATED, after, tuple(entries)))
        return written

    try:
        retrying(attempt)
    except Busy as busy:
        raise RetryLater(f"SKU {quote(sku)}: {busy}", delay_seconds=1) from None
    return result[-1]


def apply_fact(store: StockStore, seller_id: str, fact: ItemFact, at: datetime, cause: Mapping[str, Any],
               now: datetime) -> Applied:
    """Merge what a source says about a merchant order item; the ledger records what moved."""
    result: list[Applied] = []

    def attempt() -> Written:
        item = store.item(seller_id, fact.order_id, fact.order_item_id)
        merged = rules.merge(item, fact)
        if item is not None and replace(merged, version=item.version) == item:
            result.append(Applied(Outcome.DUPLICATE, store.get(seller_id, item.sku) or Balance(seller_id, item.sku)))
            return Written.OK
        merged = replace(merged, version=(item.version if item else 0) + 1)
        before = store.get(seller_id, merged.sku)
        entry_id = f"order.{fact.order_id}.{fact.order_item_id}.v{merged.version}"
        after, entries = rules.apply_item(before or Balance(seller_id, merged.sku), item, merged, entry_id, at, cause)
        written = store.write(before, after, entries, now, item=(item, merged))
        if written is Written.OK:
            result.append(Applied(Outcome.UPDATED if item else Outcome.CREATED, after, tuple(entries)))
        return Written.CONFLICT if written is Written.DUPLICATE else written

    try:
        retrying(attempt)
    except Busy as busy:
        raise RetryLater(f"order {quote(fact.order_id)}: {busy}", delay_seconds=1) from None
    return result[-1]


# --- from the orders ------------------------------------------------------------------------

def facts_of_change(seller_id: str, order_id: str, status: str, channel: str | None,
                    lines: list[tuple[str, str | None, int, int]]) -> list[ItemFact]:
    """An order's items as stock facts: merchant orders only (FBA stock is Amazon's)."""
    if channel != MERCHANT:
        return []
    cancelled = status == "CANCELLED"
    shipped_all = status == "SHIPPED"
    return [ItemFact(order_id, item_id, sku, quantity, quantity if shipped_all else shipped, cancelled)
            for item_id, sku, quantity, shipped in lines if sku]


def _result(applied: list[Applied], facts: Mapping[str, Any]) -> Result:
    oversold = [e.entry_id for a in applied for e in a.entries if e.oversold]
    outcome = strongest([a.outcome for a in applied])
    if outcome is Outcome.CREATED:  # CREATED counts the orders a notification created (the orders flow's)
        outcome = Outcome.UPDATED
    return Result(outcome, {**facts, "entries": sum(len(a.entries) for a in applied),
                            **({"oversold": len(oversold)} if oversold else {})})


def order_stock(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """Everything sellerops holds about a merchant order (its status and items, its shipments
    confirmed to Amazon), merged into the ledger: queued when a shipment is confirmed and when
    getOrder (or the backstop) read the order."""
    if ports.orders is None:
        raise PermanentError("order_stock needs the orders' facts")
    facts = ports.orders.order_facts(task.seller_id, task.key)
    if facts is None:
        raise RetryLater(f"order {quote(task.key)} is not recorded yet", delay_seconds=30)
    if not facts:
        return Result(Outcome.SKIPPED, {"order_id": task.key, "reason": "no merchant items"})
    cause = {"type": "order", "orderId": task.key}
    at = task.param("at")
    moment = datetime.fromisoformat(at) if isinstance(at, str) else now
    return _result([apply_fact(ports.stock, task.seller_id, fact, moment, cause, now) for fact in facts],
                   {"order_id": task.key})


# --- from the warehouse -----------------------------------------------------------------------

def set_count(store: StockStore, seller_id: str, sku: str, quantity: int, at: datetime, entry_id: str,
              cause: Mapping[str, Any], now: datetime) -> Applied:
    return apply(store, seller_id, sku, lambda b: _one(rules.count(b, entry_id, at, quantity, cause)), now)


def adjust(store: StockStore, seller_id: str, sku: str, delta: int, at: datetime, entry_id: str,
           cause: Mapping[str, Any], now: datetime) -> Applied:
    return apply(store, seller_id, sku, lambda b: _one(rules.adjust(b, entry_id, at, delta, cause)), now)


def _one(pair: tuple[Balance, Entry]) -> tuple[Balance, list[Entry]]:
    return pair[0], [pair[1]]


def configure(store: StockStore, seller_id: str, sku: str, changes: Mapping[str, Any], now: datetime) -> Applied:
    """PATCH /stock/{sku}: `safetyBuffer`, `reorderPoint` (null: the default), `discontinued`."""
    def change(balance: Balance) -> tuple[Balance, list[Entry]]:
        current = balance.settings
        settings = Settings(changes.get("safetyBuffer", current.buffer),
                            changes["reorderPoint"] if "reorderPoint" in changes else current.reorder_point,
                            changes.get("discontinued", current.discontinued))
        if settings == current and balance.version > 0:
            return balance, []
        return rules.settle(balance, settings), []

    return apply(store, seller_id, sku, change, now)


class ImportRefused(Exception):
    def __init__(self, problems: list[RowProblem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


def import_counts(store: StockStore, seller_id: str, text: str, now: datetime) -> dict[str, Any]:
    """A CSV of counts: every row checked before any is applied (a file with a problem applies
    nothing); the same file again changes nothing (its entries are the file's and line's)."""
    rows, problems = imports.parse(text)
    if problems:
        raise ImportRefused(problems)
    digest = hashlib.sha256(text.encode()).hexdigest()
    earlier = store.imported(seller_id, digest)
    at_text = (earlier or {}).get("at")
    at = datetime.fromisoformat(at_text) if isinstance(at_text, str) else now
    for row in rows:  # a count a SKU's history refuses, before anything is written
        current = store.get(seller_id, row.sku)
        if current is not None:
            try:
                rules.count(current, "check", row.counted_at or at, row.quantity, {})
            except rules.Refused as refused:
                problems.append(RowProblem(row.line, "counted_at", refused.message))
    if problems:
        raise ImportRefused(problems[:100])
    applied = duplicates = 0
    for row in rows:
        done = set_count(store, seller_id, row.sku, row.quantity, row.counted_at or at,
                         f"import.{digest[:20]}.{row.line}", {"type": "import", "file": digest[:20], "line": row.line},
                         now)
        if done.outcome is Outcome.DUPLICATE:
            duplicates += 1
        else:
            applied += 1
    record = {"at": at.isoformat(), "rows": len(rows), "applied": applied, "alreadyApplied": duplicates}
    if earlier is None:
        store.remember_import(seller_id, digest, record, now)
    return {"file": digest[:20], **{k: v for k, v in record.items() if k != "at"}}


# --- from Amazon --------------------------------------------------------------------------------

def record_fba_change(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """FBA_INVENTORY_AVAILABILITY_CHANGES: Amazon's warehouses' quantities, per marketplace."""
    change = parsing.parse_fba_change(notification)
    cause = {"type": "FBA_INVENTORY_AVAILABILITY_CHANGES", "notificationId": notification.notification_id}

    def apply_all(balance: Balance) -> tuple[Balance, list[Entry]]:
        entries = []
        for marketplace_id, quantities in change.by_marketplace:
            balance, entry = rules.report_fba(balance, f"fba.{notification.notification_id}.{marketplace_id}",
                                              marketplace_id, quantities, cause)
            entries += [entry] if entry else []
        return balance, entries

    applied = apply(ports.stock, change.seller_id, change.sku, apply_all, now)
    # Amazon's quantities of a SKU moved: an update (CREATED counts what a notification created
    # of the orders, as the replay's summary and the demo say), or nothing new.
    outcome = Outcome.UPDATED if applied.outcome is Outcome.CREATED else applied.outcome
    if outcome is Outcome.DUPLICATE and not any(e.entry_id.startswith(f"fba.{notification.notification_id}.")
                                                 for e in applied.balance.latest):
        outcome = Outcome.STALE  # older than the quantities held: nothing changed
    return Result(outcome, {"sku": change.sku, "marketplaces": len(change.by_marketplace)})


def record_mfn_quantity(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """LISTINGS_ITEM_MFN_QUANTITY_CHANGE: what Amazon's merchant listing shows. Another
    quantity than ours (and not older than our last push) is corrected by the next push."""
    report = parsing.parse_mfn_quantity(notification)
    if report.channel != "DEFAULT":
        return Result(Outcome.SKIPPED, {"sku": report.sku, "reason": f"channel {report.channel[:20]}"})

    def change(balance: Balance) -> tuple[Balance, list[Entry]]:
        moved = rules.reported_by_amazon(balance, report.quantity, report.at)
        return (balance if moved is None else replace(moved, version=balance.version + 1)), []

    applied = apply(ports.stock, report.seller_id, report.sku, change, now)
    corrected = applied.balance.corrections and applied.outcome is not Outcome.DUPLICATE and \
        rules.needs_push(applied.balance)
    outcome = {Outcome.DUPLICATE: Outcome.STALE, Outcome.CREATED: Outcome.UPDATED}.get(applied.outcome,
                                                                                     applied.outcome)
    return Result(outcome,
                  {"sku": report.sku, "quantity": report.quantity, **({"correcting": True} if corrected else {})})


# --- pushing to Amazon ----------------------------------------------------------------------------

def marketplaces_of(sellers: Sellers | None, seller_id: str) -> list[str]:
    for seller in sellers.sellers() if sellers else []:
        if seller.get("seller_id") == seller_id:
            return list(seller.get("marketplace_ids") or [])
    return []


def schedule_pushes(store: StockStore, sellers: Sellers, tasks: TaskQueue, now: datetime) -> dict[str, int]:
    """Every minute, per seller: the SKUs whose quantity Amazon must get. A few are patched one by
    one; more go as one listings feed (rules.door). Changes since the last run are coalesced:
    each task reads the balance when it runs and sends its latest quantity."""
    patches = feeds = 0
    for seller in sellers.sellers():
        seller_id = seller["seller_id"]
        waiting = store.waiting_push(seller_id, rules.PATCH_AT_MOST + 1)
        if not waiting:
            continue
        if rules.door(len(waiting)) is rules.Door.PATCH:
            for sku in waiting:
                tasks.enqueue(Task(PUSH_LISTING, seller_id, sku, {}))
            patches += len(waiting)
        elif store.feed_slot(seller_id, now):  # one listings feed of a seller on its way at a time
            tasks.enqueue(Task(PUSH_FEED, seller_id, f"{now:%Y%m%dT%H%M}", {}))
            feeds += 1
    return {"patches": patches, "feeds": feeds}


def _record_push(store: StockStore, seller_id: str, sku: str, push: Push | None, now: datetime, *,
                 invalid: str | None = None, known: bool = False) -> Applied:
    def change(balance: Balance) -> tuple[Balance, list[Entry]]:
        marked = invalid if invalid is not None else (None if known else balance.invalid)
        return replace(balance, pushed=push, invalid=marked, version=balance.version + 1), []

    return apply(store, seller_id, sku, change, now)


def push_listing(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """patchListingsItem with the SKU's quantity as it is now (idempotent: it replaces it)."""
    assert ports.slots is not None and ports.amazon is not None
    balance = ports.stock.get(task.seller_id, task.key)
    if balance is None or not rules.needs_push(balance):
        return Result(Outcome.SKIPPED, {"sku": task.key})
    target = rules.target_quantity(balance)
    assert target is not None  # needs_push
    marketplaces = marketplaces_of(ports.sellers, task.seller_id)
    if not marketplaces:
        raise RetryLater(f"no marketplace is known yet for seller {quote(task.seller_id)}", delay_seconds=300)
    ports.slots.take(task, "patchListingsItem", now.timestamp())
    answer = ports.amazon.patch_quantity(task.seller_id, marketplaces, task.key, target)
    status, issues = parsing.submission_issues(answer)
    if status == "ACCEPTED" and not issues:
        _record_push(ports.stock, task.seller_id, task.key,
                     Push(target, now, "patch", "sent", str(answer.get("submissionId") or "")), now, known=True)
        return Result(Outcome.DONE, {"sku": task.key, "quantity": target})
    message = "; ".join(f"{code}: {text}" for code, text in issues)[:500] or f"Amazon answered {status[:20]}"
    unknown = any(code in parsing.UNKNOWN_SKU_CODES for code, _ in issues)
    _record_push(ports.stock, task.seller_id, task.key, Push(target, now, "patch", "refused", None, message), now,
                 invalid=message if unknown else None)
    return Result(Outcome.ATTENTION, {"sku": task.key, "attention": message})


def push_feed(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """Many SKUs at once: one JSON_LISTINGS_FEED of the latest quantities (on the work queue: it
    reads and marks thousands of balances). The document is uploaded here; the feed is created
    by the next task, at most once."""
    assert ports.slots is not None and ports.amazon is not None
    waiting = ports.stock.waiting_push(task.seller_id, rules.FEED_AT_MOST)
    balances = ports.stock.get_many(task.seller_id, waiting)
    quantities = [(sku, q) for sku in waiting if (b := balances.get(sku)) is not None and rules.needs_push(b)
                  and (q := rules.target_quantity(b)) is not None]
    if not quantities:
        ports.stock.free_feed_slot(task.seller_id)
        return Result(Outcome.SKIPPED, {"reason": "nothing waits"})
    marketplaces = marketplaces_of(ports.sellers, task.seller_id)
    if not marketplaces:
        raise RetryLater(f"no marketplace is known yet for seller {quote(task.seller_id)}", delay_seconds=300)
    ports.slots.take(task, "createFeedDocument", now.timestamp())
    document_id = ports.amazon.upload_feed(task.seller_id, marketplaces[0],
                                           parsing.listings_feed(task.seller_id, quantities))
    messages = [{"id": number, "sku": sku, "quantity": q} for number, (sku, q) in enumerate(quantities, start=1)]
    ports.stock.save_feed(task.seller_id, document_id, {"documentId": document_id, "status": "uploaded",
                                                        "messages": len(messages), "createdAt": now.isoformat()},
                          messages, now)
    ports.tasks.enqueue(Task(SUBMIT_FEED, task.seller_id, document_id, {"marketplaceIds": marketplaces}))
    return Result(Outcome.DONE, {"document_id": document_id, "messages": len(messages)})


def submit_feed(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """createFeed for an uploaded listings document, at most once; then each SKU in it records
    the quantity as submitted (the report says later which Amazon refused)."""
    assert ports.slots is not None and ports.amazon is not None and ports.ledger is not None
    found = ports.stock.feed(task.seller_id, task.key)
    if found is None:
        raise PermanentError(f"listings feed document {quote(task.key)} is not recorded")
    record, messages = found
    marketplaces = list(task.param("marketplaceIds") or [])
    amazon = ports.amazon
    ports.slots.take(task, "createFeed", now.timestamp())
    call = Call(task.seller_id, "createFeed", f"{parsing.LISTINGS_FEED}#{task.key}",
                {"document": task.key, "marketplaceIds": marketplaces})
    feed_id = call_once(ports.ledger, call, lambda: amazon.create_feed(task.seller_id, marketplaces, task.key),
                        lambda: None)
    ports.stock.save_feed(task.seller_id, str(feed_id), {**record, "feedId": str(feed_id), "status": "submitted",
                                                         "submittedAt": now.isoformat(),
                                                         "marketplaceIds": marketplaces}, messages, now)
    for message in messages:
        _record_push(ports.stock, task.seller_id, message["sku"],
                     Push(int(message["quantity"]), now, "feed", "submitted", str(feed_id)), now)
    ports.stock.free_feed_slot(task.seller_id)  # its SKUs no longer wait: the next feed may go
    return Result(Outcome.DONE, {"feed_id": feed_id, "messages": len(messages)})


def listings_feed_finished(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """FEED_PROCESSING_FINISHED of a JSON_LISTINGS_FEED: read its report (a task: it calls Amazon)."""
    body = get(notification.payload, "feedProcessingFinishedNotification") or {}
    seller_id = get(body, "sellerId") or notification.seller_id
    feed_id, status = get(body, "feedId"), get(body, "processingStatus")
    if not (isinstance(seller_id, str) and isinstance(feed_id, str) and isinstance(status, str)):
        raise InvalidNotification(f"{notification.label}: sellerId, feedId and processingStatus are needed")
    document = get(body, "resultFeedDocumentId")
    ports.tasks.enqueue(Task(READ_FEED_REPORT, seller_id, feed_id, {
        "status": status, "documentId": document if isinstance(document, str) else None}))
    return Result(Outcome.UPDATED, {"feed_id": feed_id})


def read_listings_report(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """The feed's processing report: each SKU Amazon refused keeps Amazon's message (and is
    invalid when Amazon does not know it); a feed Amazon could not process at all leaves its
    SKUs waiting, so the next push sends them again."""
    assert ports.slots is not None and ports.amazon is not None
    found = ports.stock.feed(task.seller_id, task.key)
    if found is None:
        return Result(Outcome.SKIPPED, {"feed_id": task.key, "reason": "not one of ours"})
    record, messages = found
    if record.get("status") == "done":
        return Result(Outcome.SKIPPED, {"feed_id": task.key})
    by_number = {int(m["id"]): m for m in messages}
    status, document = task.param("status"), task.param("documentId")
    if status != "DONE" or not document:
        for message in messages:
            # Amazon applied none of it: the SKUs wait again, and the next push sends them.
            _record_push(ports.stock, task.seller_id, message["sku"], None, now)
        ports.stock.update_feed(task.seller_id, task.key, {**record, "status": "done", "outcome": status}, now)
        return Result(Outcome.ATTENTION, {"feed_id": task.key, "attention": f"feed ended {str(status)[:20]}"})
    ports.slots.take(task, "getFeedDocument", now.timestamp())
    report = parsing.parse_feed_report(ports.amazon.feed_report(task.seller_id, None, document))
    refused: dict[str, list[parsing.FeedIssue]] = {}
    for issue in report.errors:
        sent = by_number.get(issue.message_id)
        if sent is not None:
            refused.setdefault(sent["sku"], []).append(issue)
    for sku, issues in refused.items():
        message = by_number[issues[0].message_id]
        text = "; ".join(f"{i.code}: {i.message}" for i in issues)[:500]
        unknown = any(i.code in parsing.UNKNOWN_SKU_CODES for i in issues)
        _record_push(ports.stock, task.seller_id, sku, Push(int(message["quantity"]), now, "feed", "refused",
                                                           task.key, text), now, invalid=text if unknown else None)
    outcome = {"processed": report.processed, "accepted": report.accepted, "refused": len(refused)}
    ports.stock.update_feed(task.seller_id, task.key, {**record, "status": "done", "outcome": outcome,
                                                       "doneAt": now.isoformat()}, now)
    return Result(Outcome.ATTENTION if refused else Outcome.DONE, {"feed_id": task.key, **outcome})


# --- reconciling FBA ------------------------------------------------------------------------------

def schedule_reconciliation(sellers: Sellers, tasks: TaskQueue, now: datetime) -> dict[str, int]:
    queued = 0
    for seller in sellers.sellers():
        for marketplace_id in seller.get("marketplace_ids") or []:
            tasks.enqueue(Task(RECONCILE_FBA, seller["seller_id"], marketplace_id, {"run": now.isoformat()}))
            queued += 1
    return {"queued": queued}


def reconcile_fba(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """One page of getInventorySummaries: Amazon's quantities replace ours where they differ
    (each difference is drift, counted on the SKU); the next page is the next task."""
    assert ports.slots is not None and ports.amazon is not None
    ports.slots.take(task, "getInventorySummaries", now.timestamp())
    summaries, next_token = ports.amazon.inventory_summaries(task.seller_id, task.key, task.param("nextToken"))
    run = str(task.param("run") or now.isoformat())
    drift = 0
    for summary in summaries:
        sku, quantities = parsing.fba_of_summary(summary, now)
        cause = {"type": "getInventorySummaries", "run": run}
        entry_id = f"reconcile.{hashlib.sha256(run.encode()).hexdigest()[:12]}.{task.key}"

        def change(balance: Balance, fba: Fba = quantities, entry: str = entry_id,
                   why: Mapping[str, Any] = cause) -> tuple[Balance, list[Entry]]:
            moved, made = rules.report_fba(balance, entry, task.key, fba, why, drift=True)
            return moved, [made] if made else []

        if ports.stock.get(task.seller_id, sku) is None and not any(quantities.quantities()):
            continue
        applied = apply(ports.stock, task.seller_id, sku, change, now)
        drift += sum(1 for e in applied.entries if e.kind is rules.Kind.FBA_DRIFT)
    if next_token:
        ports.tasks.enqueue(task.with_params(nextToken=next_token))
    return Result(Outcome.DONE, {"marketplace_id": task.key, "summaries": len(summaries), "drift": drift})


def new_entry_id(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:20]}"

