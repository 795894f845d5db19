"""Invoices: issue one per supply (a confirmed merchant shipment, or what Amazon shipped from its
warehouses) and a credit note per refund, numbered without gaps, drawn as a PDF archived once,
uploaded to Amazon once; the seller's profile.

    issue_invoices      (tasks) order → the invoices and credit notes it lacks, each numbered in
                                one transaction
    render_invoice      (work)  number → the PDF, archived write-once, locked; then its upload
    upload_invoice      (tasks) number → createFeedDocument and the PDF put to its URL
    submit_invoice      (tasks) number → createFeed (UPLOAD_VAT_INVOICE), at most once
    read_invoice_report (tasks) feed → its processing report: accepted, or rejected and why
    fetch_refunds       (tasks) order → listTransactions: the refunds Amazon posted, recorded
    sweep_invoices      (schedule) what waits: orders for a profile, documents for their PDF or
                                upload, feeds for their report

The other flows queue `issue_invoices` (a task, never a call into this flow): the shipments
flow when Amazon confirmed a shipment, the orders flow when Amazon reports an FBA order shipped.
A duplicated or late trigger finds the claims already made and issues nothing.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from chalicelib.core.envelope import Notification, get
from chalicelib.core.errors import InvalidNotification, PermanentError, RetryLater
from chalicelib.core.fields import quote
from chalicelib.core.once import Call, CallLedger, call_once
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue
from chalicelib.core.times import iso_seconds
from chalicelib.flows.invoices import credit_notes, refunds, rules, triggers, upload, vat
from chalicelib.flows.invoices.rules import Buyer, Document, OrderMoney, Profile

ISSUE = triggers.ISSUE_INVOICES
RENDER = "render_invoice"
UPLOAD = "upload_invoice"
SUBMIT = "submit_invoice"
REPORT = "read_invoice_report"
REFUNDS = "fetch_refunds"
# Submitted this long without Amazon's notification: the sweep asks Amazon (getFeed).
REPORT_AFTER = timedelta(hours=1)
# A document numbered but not drawn this long after is drawn again by the sweep (its task was lost).
SWEEP_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class OrderState:
    """What the invoices need of an order (from the orders flow)."""

    seller_id: str
    order_id: str
    marketplace_id: str | None
    status: str
    channel: str | None  # AFN | MFN
    money: OrderMoney | None  # None until getOrder's money is read (or while it needs a person)
    shipped: Mapping[str, int] = field(default_factory=dict)  # Amazon's shipped units per item
    # The merchant packages Amazon lists (getOrder): (reference, shipped at, units per item).
    packages: tuple[tuple[str, datetime, Mapping[str, int]], ...] = ()
    as_of: datetime | None = None  # when Amazon last changed the order (FBA: when it reported it shipped)
    attention: str | None = None  # why the order's money could not be taken


class Orders(Protocol):
    def state(self, order_id: str) -> OrderState | None: ...
    def personal(self, order_id: str) -> dict[str, Any] | None: ...


class Shipments(Protocol):
    def confirmed(self, order_id: str) -> list[tuple[str, datetime, dict[str, int]]]: ...


class Store(Protocol):
    def profile(self, seller_id: str) -> Profile | None: ...
    def save_profile(self, profile: Profile, now: datetime) -> None: ...
    def mark_waiting(self, seller_id: str, order_id: str, now: datetime) -> None: ...
    def clear_waiting(self, seller_id: str, order_id: str) -> None: ...
    def waiting_orders(self, seller_id: str, limit: int = 1000) -> list[str]: ...
    def claims(self, seller_id: str, order_id: str) -> dict[str, str]: ...
    def get(self, seller_id: str, number: str) -> Any: ...
    def seal_buyer(self, doc: Document, buyer: Buyer | None) -> str | None: ...
    def open_buyer(self, issued: Any) -> Buyer | None: ...
    def allocate(self, doc: Document, sealed_buyer: str | None, start: int, number_of: Callable[[int], str],
                 deadline: datetime, now: datetime) -> Any: ...
    def rendered(self, issued: Any, pdf_key: str, sha256: str, now: datetime) -> bool: ...
    def open_numbers(self, seller_id: str, limit: int = 500) -> Any: ...
    def refunds_of(self, seller_id: str, order_id: str) -> list[refunds.Refund]: ...


class Archive(Protocol):
    def put(self, key: str, body: bytes, retain_until: datetime) -> str: ...
    def get(self, key: str) -> bytes: ...


class AmazonInvoices(Protocol):
    def upload_document(self, seller_id: str, marketplace_id: str | None, pdf: bytes) -> str: ...
    def create_feed(self, seller_id: str, marketplace_id: str, document_id: str, options: dict[str, str]) -> str: ...
    def recent_feeds(self, seller_id: str, marketplace_id: str, since: datetime) -> list[dict[str, Any]]: ...
    def report(self, seller_id: str, marketplace_id: str | None, document_id: str) -> str: ...
    def feed(self, seller_id: str, marketplace_id: str | None, feed_id: str) -> dict[str, Any]: ...
    def transactions(self, seller_id: str, marketplace_id: str | None, order_id: str, posted_after: datetime,
                     next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]: ...


class Sellers(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class IssuePorts:
    store: Store
    orders: Orders
    shipments: Shipments
    tasks: TaskQueue


@dataclass(frozen=True)
class RenderPorts:
    store: Store
    archive: Archive
    tasks: TaskQueue
    render: Callable[[Document, Buyer | None, bytes | None], bytes]


@dataclass(frozen=True)
class AmazonPorts:
    """What the tasks that call Amazon use."""

    store: Any
    archive: Archive
    tasks: TaskQueue
    slots: Slots
    ledger: CallLedger
    amazon: AmazonInvoices


@dataclass(frozen=True)
class IntakePorts:
    tasks: TaskQueue


# Where Amazon takes UPLOAD_VAT_INVOICE (its documentation's list).
UPLOAD_MARKETPLACES = frozenset({"A1RKKUPIHCS9HS", "A1F83G8C2ARO7P", "A13V1IB3VIYZZH", "A1PA6795UKMFR9",
                                 "APJ6JRA9NG5V4", "A1805IZSGTT6HS", "A1C3SOZRARQ6R3", "A2NODRKZP88ZB9"})


def render_task(seller_id: str, number: str) -> Task:
    return Task(RENDER, seller_id, number, {})


def upload_task(seller_id: str, number: str, attempt: int = 1) -> Task:
    return Task(UPLOAD, seller_id, number, {"attempt": attempt})


def upload_deadline(shipped_at: datetime) -> datetime:
    """Amazon's deadline: the end of the next business day (Monday to Friday, UTC) after the
    shipment (or the refund)."""
    day = shipped_at.astimezone(UTC).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


# --- issuing ---------------------------------------------------------------------------------

def _supplies(order: OrderState, money: OrderMoney, profile: Profile, ports: IssuePorts,
              claims: Mapping[str, str]) -> list[rules.Supply]:
    if order.channel == "AFN":
        if order.status not in ("SHIPPED", "PARTIALLY_SHIPPED") or order.as_of is None:
            return []
        documents = [ports.store.get(order.seller_id, number) for source, number in claims.items()
                     if source.startswith("amazon#")]
        invoiced = rules.invoiced_units([d.document for d in documents if d is not None])
        ship_from = vat.marketplace_country(order.marketplace_id) or profile.address.country_code
        supply = rules.amazon_supply(order.shipped, invoiced, sum(1 for s in claims if s.startswith("amazon#")),
                                     order.as_of, ship_from)
        return [supply] if supply else []
    # Ours first: a package we confirmed is also in Amazon's list, under the same reference.
    packages = [*ports.shipments.confirmed(order.order_id), *order.packages]
    return rules.merchant_supplies(packages, set(claims), profile.address.country_code)


def issue_invoices(task: Task, ports: IssuePorts, now: datetime) -> Result:
    """The order's invoices that are due and not yet issued: numbered, recorded, then drawn."""
    order_id = task.key
    order = ports.orders.state(order_id)
    if order is None:
        # Not here yet (a refund notified before its order): the order's own details, once
        # fetched, ask for its invoices again.
        return Result(Outcome.SKIPPED, {"order_id": order_id, "waiting": "the order is not recorded yet"})
    if order.seller_id != task.seller_id:
        raise PermanentError(f"order {quote(order_id)} belongs to another seller than {quote(task.seller_id)}")
    profile = ports.store.profile(order.seller_id)
    if profile is None:
        ports.store.mark_waiting(order.seller_id, order_id, now)
        return Result(Outcome.ATTENTION, {"order_id": order_id,
                                          "attention": "the seller has no profile yet: PUT /sellers/{id}/profile"})
    if order.marketplace_id in profile.vcs_marketplaces:
        ports.store.clear_waiting(order.seller_id, order_id)
        return Result(Outcome.SKIPPED, {"order_id": order_id, "vcs": order.marketplace_id})
    if order.money is None:
        if order.attention:
            return Result(Outcome.ATTENTION, {"order_id": order_id, "attention": order.attention})
        # Amazon's prices are not read yet: reading them (getOrder) asks for the invoices again.
        return Result(Outcome.SKIPPED, {"order_id": order_id, "waiting": "Amazon's prices are not read yet"})
    claims = ports.store.claims(order.seller_id, order_id)
    supplies = _supplies(order, order.money, profile, ports, claims)
    buyer = rules.buyer_of(ports.orders.personal(order_id))
    issued = []
    for supply in supplies:
        doc = rules.build_invoice(order.money, supply, profile, buyer, now.date())
        if buyer is None:
            doc = _with_attention(doc, "the buyer's name and address are gone (deleted 30 days after delivery): "
                                       "the invoice names no buyer")
        allocation = ports.store.allocate(doc, ports.store.seal_buyer(doc, buyer), profile.series.start,
                                          functools.partial(profile.series.number, doc.series_id),
                                          upload_deadline(supply.shipped_at), now)
        ports.tasks.enqueue(render_task(order.seller_id, allocation.issued.number))
        issued.append(allocation.issued.number)
    issued += _credit_notes(order, profile, ports, now)
    # Documents numbered earlier but not drawn (a crash after the transaction) are drawn now too.
    for number in ports.store.claims(order.seller_id, order_id).values():
        if number not in issued:
            found = ports.store.get(order.seller_id, number)
            if found is not None and found.state == "issued":
                ports.tasks.enqueue(render_task(order.seller_id, number))
    ports.store.clear_waiting(order.seller_id, order_id)
    if not issued:
        return Result(Outcome.SKIPPED, {"order_id": order_id})
    return Result(Outcome.CREATED, {"order_id": order_id, "issued": issued})


def _credit_notes(order: OrderState, profile: Profile, ports: IssuePorts, now: datetime) -> list[str]:
    """A credit note per invoice a recorded refund corrects, once (claimed per transaction and
    invoice). A refund whose items no invoice carries yet waits for the invoice."""
    issued: list[str] = []
    posted = ports.store.refunds_of(order.seller_id, order.order_id)
    if not posted:
        return issued
    claims = ports.store.claims(order.seller_id, order.order_id)
    invoices = [found for source, number in sorted(claims.items()) if not source.startswith("refund#")
                if (found := ports.store.get(order.seller_id, number)) is not None]
    for refund in posted:
        if any(source.startswith(f"refund#{refund.transaction_id}#") for source in claims):
            continue
        shares, unmatched = credit_notes.split(refund, [i.document for i in invoices])
        if unmatched or not shares:
            continue  # its invoice is not issued yet: the issue that brings it issues this too
        for share in shares:
            source = f"refund#{refund.transaction_id}#{share.invoice.number}"
            doc = credit_notes.build_credit_note(share, refund, profile, now.date(), source)
            corrected = next(i for i in invoices if i.number == share.invoice.number)
            buyer = ports.store.open_buyer(corrected)
            allocation = ports.store.allocate(doc, ports.store.seal_buyer(doc, buyer), profile.series.start,
                                              functools.partial(profile.series.number, doc.series_id),
                                              upload_deadline(refund.posted_at), now)
            ports.tasks.enqueue(render_task(order.seller_id, allocation.issued.number))
            issued.append(allocation.issued.number)
    return issued


def _with_attention(doc: Document, reason: str) -> Document:
    return replace(doc, attention="; ".join(x for x in (doc.attention, reason) if x))


def render_invoice(task: Task, ports: RenderPorts, now: datetime) -> Result:
    """Draw the document and archive its PDF, once."""
    from chalicelib.flows.invoices.store import pdf_key

    issued = ports.store.get(task.seller_id, task.key)
    if issued is None:
        raise PermanentError(f"document {quote(task.key)} of seller {quote(task.seller_id)} is not issued")
    if issued.state != "issued":
        return Result(Outcome.SKIPPED, {"number": task.key})
    doc = issued.document
    profile = ports.store.profile(doc.seller_id)
    body = ports.render(doc, ports.store.open_buyer(issued), profile.logo_png if profile else None)
    years = profile.legal_period_years if profile else rules.LEGAL_PERIOD_YEARS
    retain_until = datetime.combine(_years_after(doc.issue_date, years), time(0, 0), tzinfo=UTC)
    key = pdf_key(doc)
    digest = ports.archive.put(key, body, retain_until)
    ports.store.rendered(issued, key, digest, now)
    _upload_or_hold(ports, issued, profile, now)
    return Result(Outcome.DONE, {"number": task.key, "bytes": len(body)})


def hold_reason(doc: Document, profile: Profile | None) -> str | None:
    """Why a document is not sent to Amazon by itself (a person sends it, or nobody needs to)."""
    if doc.attention:
        return f"held for a person: {doc.attention}"
    if profile is not None and doc.marketplace_id in profile.vcs_marketplaces:
        return "Amazon's VAT Calculation Service issues the invoices in this marketplace"
    if doc.marketplace_id not in UPLOAD_MARKETPLACES:
        return "Amazon takes invoice uploads in its EU and UK marketplaces only"
    return None


def _upload_or_hold(ports: Any, issued: Any, profile: Profile | None, now: datetime) -> None:
    if issued.upload_status != upload.NOT_SENT:
        return
    reason = hold_reason(issued.document, profile)
    if reason is not None:
        # Amazon does not want it (VCS, or no upload there): not open. Held for a person: open.
        ports.store.set_upload(issued, {"status": upload.HELD, "explanation": reason}, now,
                               closed=not issued.document.attention)
        return
    ports.tasks.enqueue(upload_task(issued.document.seller_id, issued.number))


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


# --- the upload to Amazon ------------------------------------------------------------------------

def _marketplace(doc: Document) -> str:
    if not doc.marketplace_id:
        raise PermanentError(f"document {doc.number} names no marketplace to upload it to")
    return doc.marketplace_id


def upload_invoice(task: Task, ports: AmazonPorts, now: datetime) -> Result:
    """The PDF to Amazon: createFeedDocument and the PUT to its URL (harmless to repeat: an
    unused document expires at Amazon); then the feed is submitted by its own task."""
    issued = ports.store.get(task.seller_id, task.key)
    if issued is None:
        raise PermanentError(f"document {quote(task.key)} of seller {quote(task.seller_id)} is not issued")
    attempt = int(task.param("attempt") or 1)
    if issued.upload_status in (upload.SUBMITTED, upload.ACCEPTED) or int((issued.upload or {}).get("attempt") or 1) \
            > attempt or (issued.upload_status in (upload.REJECTED, upload.HELD) and attempt <= 1):
        return Result(Outcome.SKIPPED, {"number": task.key, "upload": issued.upload_status})
    if issued.state != "rendered" or not issued.pdf_key:
        raise RetryLater(f"document {task.key} is not drawn yet", delay_seconds=30)
    doc = issued.document
    ports.slots.take(task, "createFeedDocument", now.timestamp())
    document_id = ports.amazon.upload_document(doc.seller_id, _marketplace(doc), ports.archive.get(issued.pdf_key))
    ports.tasks.enqueue(Task(SUBMIT, doc.seller_id, issued.number, {"attempt": attempt, "document_id": document_id,
                                                                   "requested_at": iso_seconds(now)}))
    return Result(Outcome.DONE, {"number": issued.number, "feed_document": document_id})


def submit_invoice(task: Task, ports: AmazonPorts, now: datetime) -> Result:
    """createFeed UPLOAD_VAT_INVOICE at most once per document and attempt (core/once.py): after
    an unknown outcome, Amazon's recent invoice feeds are read and one no document of ours
    claims, made since the request, is taken as this one (sellerops is the seller's only
    invoice uploader)."""
    issued = ports.store.get(task.seller_id, task.key)
    if issued is None:
        raise PermanentError(f"document {quote(task.key)} of seller {quote(task.seller_id)} is not issued")
    if issued.upload_status in (upload.SUBMITTED, upload.ACCEPTED):
        return Result(Outcome.SKIPPED, {"number": task.key, "upload": issued.upload_status})
    doc, attempt = issued.document, int(task.param("attempt") or 1)
    marketplace = _marketplace(doc)
    options = upload.feed_options(doc)
    ports.slots.take(task, f"createFeed#{upload.FEED_TYPE}", now.timestamp())
    call = Call(doc.seller_id, "createFeed", f"{issued.number}#{attempt}", {"marketplace": marketplace,
                                                                           "options": options})
    requested = datetime.fromisoformat(str(task.param("requested_at") or iso_seconds(now)))

    def send() -> dict[str, Any]:
        return {"feedId": ports.amazon.create_feed(doc.seller_id, marketplace, str(task.param("document_id")),
                                                   options)}

    def reconcile() -> dict[str, Any] | None:
        for feed in reversed(ports.amazon.recent_feeds(doc.seller_id, marketplace, requested - timedelta(minutes=5))):
            feed_id = str(feed.get("feedId") or "")
            if feed_id and ports.store.feed_number(doc.seller_id, feed_id) is None:
                return {"feedId": feed_id}
        return None

    try:
        result = call_once(ports.ledger, call, send, reconcile)
    except PermanentError as refused:  # Amazon refused createFeed itself (a 4xx)
        ports.store.set_upload(issued, {"status": upload.REJECTED, "attempt": attempt, "message": refused.reason,
                                        "explanation": "Amazon refused the upload request: fix the cause, then "
                                                       "POST /invoices/{number}/upload"}, now)
        return Result(Outcome.ATTENTION, {"number": issued.number, "attention": refused.reason})
    feed_id = str(result["feedId"])
    ports.store.put_feed(doc.seller_id, feed_id, issued.number, now)
    ports.store.set_upload(issued, {"status": upload.SUBMITTED, "attempt": attempt, "feed_id": feed_id,
                                    "submitted_at": iso_seconds(now)}, now)
    return Result(Outcome.DONE, {"number": issued.number, "feed_id": feed_id})


def record_feed_finished(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """FEED_PROCESSING_FINISHED for an UPLOAD_VAT_INVOICE feed: its report is read by a task."""
    body = get(notification.payload, "feedProcessingFinishedNotification")
    if not isinstance(body, dict):
        raise InvalidNotification(f"{notification.label}: the payload has no feedProcessingFinishedNotification")
    feed_id, seller_id = get(body, "feedId"), get(body, "sellerId") or notification.seller_id
    status, document = get(body, "processingStatus"), get(body, "resultFeedDocumentId")
    if not isinstance(feed_id, str) or not feed_id.isalnum() or len(feed_id) > 40:
        raise InvalidNotification(f"{notification.label}: feedId is missing or not an id")
    if not isinstance(seller_id, str) or not seller_id:
        raise InvalidNotification(f"{notification.label}: sellerId is missing")
    if status not in ("DONE", "CANCELLED", "FATAL"):
        raise InvalidNotification(f"{notification.label}: processingStatus {quote(status)} is not a final status")
    ports.tasks.enqueue(Task(REPORT, seller_id, feed_id, {"status": status, "document_id": document
                                                          if isinstance(document, str) else None}))
    return Result(Outcome.UPDATED, {"feed_id": feed_id})


def read_invoice_report(task: Task, ports: AmazonPorts, now: datetime) -> Result:
    """A feed's outcome: Amazon's processing report read, the document accepted or rejected with
    Amazon's words and what to do. A feed no document of ours names is not ours: skipped."""
    number = ports.store.feed_number(task.seller_id, task.key)
    if number is None:
        return Result(Outcome.SKIPPED, {"feed_id": task.key})
    issued = ports.store.get(task.seller_id, number)
    if issued is None or issued.upload_status != upload.SUBMITTED or (issued.upload or {}).get("feed_id") != task.key:
        return Result(Outcome.SKIPPED, {"feed_id": task.key, "number": number})
    status, document_id = task.param("status"), task.param("document_id")
    marketplace = issued.document.marketplace_id
    if status is None:  # the sweep asks: Amazon's notification never came
        ports.slots.take(task, "getFeed", now.timestamp())
        feed = ports.amazon.feed(task.seller_id, marketplace, task.key)
        status, document_id = feed.get("processingStatus"), feed.get("resultFeedDocumentId")
        if status not in ("DONE", "CANCELLED", "FATAL"):
            return Result(Outcome.SKIPPED, {"feed_id": task.key, "processing": status})
        task = task.with_params(status=status, document_id=document_id)
    report = upload.Report(1, 0, ())
    if status == "DONE" and document_id:
        ports.slots.take(task, "getFeedDocument", now.timestamp())
        report = upload.parse_report(ports.amazon.report(task.seller_id, marketplace, str(document_id)))
    accepted = status == "DONE" and report.accepted
    state = {**(issued.upload or {}), "status": upload.ACCEPTED if accepted else upload.REJECTED,
             "answered_at": iso_seconds(now), "processing": status,
             "code": report.errors[0][0] if report.errors else None,
             "message": report.errors[0][1] if report.errors else None,
             "explanation": upload.explanation(report, str(status))}
    ports.store.set_upload(issued, state, now, closed=accepted)
    if accepted:
        return Result(Outcome.DONE, {"number": number, "feed_id": task.key})
    return Result(Outcome.ATTENTION, {"number": number, "attention": state["explanation"] or state["message"]})


def send_again(store: Any, tasks: TaskQueue, seller_id: str, number: str, now: datetime) -> Any:
    """POST /invoices/{number}/upload: a document not accepted (rejected, held, never answered)
    is sent again, as a new attempt (its own at-most-once key)."""
    issued = store.get(seller_id, number)
    if issued is None:
        return None
    if issued.upload_status == upload.ACCEPTED:
        raise rules.Refused409(f"Amazon accepted {number} already; a correction is a credit note")
    if issued.upload_status == upload.SUBMITTED:
        raise rules.Refused409(f"{number} is with Amazon; its answer comes with its processing report")
    attempt = int((issued.upload or {}).get("attempt") or 0) + 1
    state = {"status": upload.NOT_SENT if issued.upload_status == upload.NOT_SENT else "requested",
             "attempt": attempt, "requested_at": iso_seconds(now)}
    if store.set_upload(issued, state, now):
        tasks.enqueue(upload_task(seller_id, number, attempt))
    return store.get(seller_id, number)


# --- refunds --------------------------------------------------------------------------------------

def record_transaction(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """TRANSACTION_UPDATE: a refund's details are read from the Finances API by a task (other
    transactions are the settlements' business)."""
    notice = refunds.parse_notice(notification.payload, notification.label)
    if "refund" not in notice.transaction_type.lower() or notice.order_id is None:
        return Result(Outcome.SKIPPED, {"transaction_type": notice.transaction_type[:40]})
    posted = notice.posted_at or notification.event_time or now
    ports.tasks.enqueue(Task(REFUNDS, notice.seller_id, notice.order_id,
                             {"marketplace_id": notice.marketplace_id,
                              "posted_after": iso_seconds(posted - timedelta(days=1))}))
    return Result(Outcome.UPDATED, {"order_id": notice.order_id}, marketplace_id=notice.marketplace_id)


def fetch_refunds(task: Task, ports: AmazonPorts, now: datetime) -> Result:
    """The order's refunds Amazon posted (listTransactions, a page at a time), each recorded
    once; then the order's credit notes are issued."""
    ports.slots.take(task, "listTransactions", now.timestamp())
    posted_after = datetime.fromisoformat(str(task.param("posted_after")))
    found, next_token = ports.amazon.transactions(task.seller_id, task.param("marketplace_id"), task.key,
                                                  posted_after, task.param("next_token"))
    new = 0
    for transaction in found:
        if refunds.is_refund(transaction):
            refund = refunds.parse_refund(transaction)
            if refund.order_id == task.key:
                new += int(ports.store.save_refund(task.seller_id, refund, now))
    if next_token:
        ports.tasks.enqueue(task.with_params(next_token=next_token))
    ports.tasks.enqueue(triggers.issue_task(task.seller_id, task.key))
    return Result(Outcome.DONE if new else Outcome.SKIPPED, {"order_id": task.key, "refunds": new})


# --- the seller's profile ---------------------------------------------------------------------

def save_profile(store: Store, tasks: TaskQueue, seller_id: str, data: Any, now: datetime) -> Profile:
    """Check and store the profile; the orders that waited for it are invoiced now."""
    profile = rules.parse_profile(seller_id, data)
    store.save_profile(profile, now)
    for order_id in store.waiting_orders(seller_id):
        tasks.enqueue(triggers.issue_task(seller_id, order_id))
    return profile


# --- the sweep ----------------------------------------------------------------------------------

def sweep(store: Any, sellers: Sellers, tasks: TaskQueue, now: datetime) -> dict[str, int]:
    """Every 15 minutes: orders that waited for a profile that now exists are invoiced; documents
    numbered but not drawn a while after (their task lost) are drawn; drawn but not sent, sent
    again; submitted an hour ago with no answer, Amazon is asked (getFeed). Returns the counts,
    and how many documents are late (not accepted by their deadline)."""
    queued = drawn = uploads = asked = late = 0
    for seller in sellers.sellers():
        seller_id = seller["seller_id"]
        if store.profile(seller_id) is not None:
            for order_id in store.waiting_orders(seller_id):
                tasks.enqueue(triggers.issue_task(seller_id, order_id))
                queued += 1
        for number in store.open_numbers(seller_id):
            found = store.get(seller_id, number)
            if found is None:
                continue
            late += int(bool(found.deadline) and datetime.fromisoformat(str(found.deadline)) < now)
            if not _updated_before(found, now - SWEEP_AFTER):
                continue
            if found.state == "issued":
                tasks.enqueue(render_task(seller_id, number))
                drawn += 1
            elif found.upload_status in (upload.NOT_SENT, "requested"):
                tasks.enqueue(upload_task(seller_id, number, int((found.upload or {}).get("attempt") or 1)))
                uploads += 1
            elif found.upload_status == upload.SUBMITTED and _updated_before(found, now - REPORT_AFTER):
                tasks.enqueue(Task(REPORT, seller_id, str((found.upload or {}).get("feed_id")), {}))
                asked += 1
    return {"issued": queued, "drawn": drawn, "uploads": uploads, "asked": asked, "late": late}


def _updated_before(found: Any, moment: datetime) -> bool:
    return found.updated_at is None or datetime.fromisoformat(found.updated_at) < moment
