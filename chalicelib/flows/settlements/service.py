"""Settlements: find every report Amazon generates (its notification, and a daily getReports over
the 90 days Amazon keeps them), archive each file once, and reconcile it on the work queue:
parse, control total, each order's money matched with its documents, the journal.

A settlement moves imported → posted (the journal is final), or → balanced (the rows sum to the
deposit, but some codes have no account yet: the mapping decides, and a new mapping reconciles it
again), or → blocked (a bad row, or rows that do not sum to the deposit: the reason says which;
another file for the same settlement replaces a blocked one).
"""
from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.envelope import Notification, get
from chalicelib.core.errors import InvalidNotification, PermanentError
from chalicelib.core.fields import quote
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue
from chalicelib.core.times import iso, iso_seconds
from chalicelib.flows.settlements import journal, parsing, rules
from chalicelib.flows.settlements.parsing import REPORT_TYPE, BadRow, Head
from chalicelib.flows.settlements.store import BALANCED, BLOCKED, IMPORTED, POSTED, Claim, digest, file_key

RECONCILE = "reconcile_settlement"
FETCH = "fetch_settlement_report"
LIST = "list_settlement_reports"
KEPT_DAYS = 90  # Amazon keeps reports 90 days
VARIANCES_SHOWN = 200
DOCUMENTS_BEFORE = timedelta(days=120)  # an order settled now was invoiced at most this long before


class SettlementStore(Protocol):
    def claim(self, seller_id: str, settlement_id: str, record: dict[str, Any], now: datetime) -> Claim: ...
    def get(self, seller_id: str, settlement_id: str) -> dict[str, Any] | None: ...
    def settle(self, seller_id: str, settlement_id: str, sha256: str, record: dict[str, Any],
               from_statuses: tuple[str, ...], now: datetime) -> bool: ...
    def post(self, seller_id: str, settlement_id: str, sha256: str, record: dict[str, Any],
             from_statuses: tuple[str, ...], now: datetime) -> bool: ...
    def list(self, seller_id: str, limit: int = 500) -> list[dict[str, Any]]: ...
    def save_payments(self, seller_id: str, settlement_id: str, payments: Iterable[tuple[str, dict[str, Any]]],
                      now: datetime) -> int: ...
    def note_report(self, seller_id: str, report_id: str, facts: dict[str, Any], now: datetime) -> bool: ...
    def report_imported(self, seller_id: str, report_id: str, settlement_id: str, now: datetime) -> None: ...
    def noted_report(self, seller_id: str, report_id: str) -> dict[str, Any] | None: ...
    def mapping(self, seller_id: str) -> dict[str, Any] | None: ...


class Files(Protocol):
    def put(self, key: str, text_gzip: bytes, sha256: str) -> None: ...
    def lines(self, key: str) -> Iterator[str]: ...


class Documents(Protocol):
    def issued_since(self, seller_id: str, since: datetime) -> dict[str, list[rules.Issued]]: ...


class AmazonReports(Protocol):
    def list_reports(self, seller_id: str, created_since: str,
                     next_token: str | None) -> tuple[list[dict[str, Any]], str | None]: ...
    def report(self, seller_id: str, report_id: str) -> dict[str, Any]: ...
    def document(self, seller_id: str, document_id: str) -> bytes: ...


class Sellers(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Ports:
    store: SettlementStore
    files: Files
    tasks: TaskQueue
    documents: Documents | None = None
    slots: Slots | None = None
    amazon: AmazonReports | None = None


class BadFile(PermanentError):
    """A settlement file that cannot be imported: the reason names the line, column and value."""

    def __init__(self, reason: str, problem: dict[str, Any] | None = None):
        super().__init__(reason)
        self.problem = problem


# --- importing a file ---------------------------------------------------------------------------

def decoded(data: bytes) -> str:
    """A settlement file's text: gzip or not, UTF-8 (with or without its BOM) or, failing that,
    Windows-1252 as some of Amazon's European files are."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            raise BadFile("the file looks gzip-compressed but is not valid gzip (cut short?)") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def import_file(ports: Ports, seller_id: str, data: bytes, source: dict[str, Any], now: datetime,
                check_rows: bool = True) -> tuple[Claim, Head]:
    """Archive the file once and claim its settlement; reconcile it on the work queue. With
    `check_rows` (a person's upload), every row is read first, so a bad one is refused now."""
    text = decoded(data)
    try:
        head, body = parsing.read(text.splitlines(True))
        if check_rows:
            body.sums(rules.category, rules.SALES, rules.REFUNDS)
    except BadRow as bad:
        raise BadFile(bad.reason, bad.to_dict()) from None
    raw = text.encode()
    sha = digest(raw)
    key = file_key(seller_id, head.settlement_id, sha)
    ports.files.put(key, gzip.compress(raw, mtime=0), sha)
    record = {"settlementId": head.settlement_id, "sellerId": seller_id,
              "period": {"start": iso_seconds(head.start), "end": iso_seconds(head.end)},
              "depositDate": iso_seconds(head.deposit_date),
              "deposit": str(head.total), "currency": head.currency,
              "file": {"key": key, "sha256": sha, "bytes": len(raw), **source},
              "importedAt": iso_seconds(now)}
    claim = ports.store.claim(seller_id, head.settlement_id, record, now)
    if claim.new or claim.record["status"] == IMPORTED:  # again: an earlier try may have lost its task
        ports.tasks.enqueue(Task(RECONCILE, seller_id, head.settlement_id, {"sha256": claim.record["file"]["sha256"]}))
    return claim, head


# --- reconciling ------------------------------------------------------------------------------

def chart_for(store: SettlementStore, seller_id: str) -> journal.Chart:
    """The seller's account mapping, or the defaults until one is set."""
    stored = store.mapping(seller_id)
    return journal.chart_of(stored, stored.get("updatedAt")) if stored else journal.DEFAULT_CHART


def reconcile_settlement(task: Task, ports: Ports, now: datetime) -> Result:
    """Read the archived file (streamed), check it against its deposit, match each order's money
    with its documents, build the journal, and move the settlement on."""
    assert ports.documents is not None
    record = ports.store.get(task.seller_id, task.key)
    sha = task.param("sha256")
    if record is None or record["file"]["sha256"] != sha:
        return Result(Outcome.SKIPPED, {"settlement_id": task.key, "reason": "another file holds it"})
    if record["status"] not in (IMPORTED, BALANCED):
        return Result(Outcome.SKIPPED, {"settlement_id": task.key, "status": record["status"]})
    try:
        head, body = parsing.read(ports.files.lines(record["file"]["key"]))
        tally = rules.Tally.read(head, body)
    except BadRow as bad:
        blocked = {**record, "status": BLOCKED, "reasons": [bad.reason], "problem": bad.to_dict(),
                   "reconciledAt": iso_seconds(now)}
        ports.store.settle(task.seller_id, task.key, sha, blocked, (IMPORTED, BALANCED), now)
        return Result(Outcome.ATTENTION, {"settlement_id": task.key, "attention": bad.reason})
    control = rules.control(tally)
    book = journal.journal(head, tally.by_code, chart_for(ports.store, task.seller_id))
    documents = ports.documents.issued_since(task.seller_id, head.start - DOCUMENTS_BEFORE)
    variances: list[rules.Variance] = []
    for order_id, money in sorted(tally.orders.items()):
        variances += rules.match(order_id, money, head.currency, documents.get(order_id, ()))
    ports.store.save_payments(task.seller_id, task.key, _payments(tally, head), now)
    reasons = []
    if not control.holds:
        reasons.append(control.reason())
    if book.unmapped:
        reasons.append(f"{len(book.unmapped)} code(s) have no account: map them with PUT /accounts/mapping "
                       f"({', '.join(' / '.join(u.code) for u in book.unmapped[:3])})")
    status = BLOCKED if not control.holds else BALANCED if book.unmapped else POSTED
    settled = {**record, "status": status, "reasons": reasons, "rows": tally.rows, "orders": len(tally.orders),
               "posted": {"first": tally.first_posted.isoformat() if tally.first_posted else None,
                          "last": tally.last_posted.isoformat() if tally.last_posted else None},
               "totals": {k: str(tally.by_category.get(k, rules.ZERO)) for k in rules.CATEGORIES
                          if k in tally.by_category},
               "control": control.to_dict(), "journal": book.to_dict(),
               "variances": [v.to_dict() for v in variances[:VARIANCES_SHOWN]], "variancesCount": len(variances),
               "reconciledAt": iso_seconds(now), "postedAt": iso_seconds(now) if status == POSTED else None}
    write = ports.store.post if status == POSTED else ports.store.settle  # posting numbers the entries
    if not write(task.seller_id, task.key, sha, settled, (IMPORTED, BALANCED), now):
        return Result(Outcome.SKIPPED, {"settlement_id": task.key, "reason": "moved on meanwhile"})
    facts = {"settlement_id": task.key, "status": status, "rows": tally.rows, "orders": len(tally.orders),
             "variances": len(variances)}
    return Result(Outcome.DONE if status == POSTED else Outcome.ATTENTION,
                  {**facts, "attention": "; ".join(r for r in reasons if r)} if reasons else facts)


def _payments(tally: rules.Tally, head: Head) -> Iterator[tuple[str, dict[str, Any]]]:
    for order_id, money in tally.orders.items():
        yield order_id, {**money.to_dict(head.currency), "depositDate": iso_seconds(head.deposit_date),
                         "period": {"start": iso_seconds(head.start), "end": iso_seconds(head.end)}}


def remap(store: SettlementStore, tasks: TaskQueue, seller_id: str,
          only: tuple[str, ...] = (IMPORTED, BALANCED)) -> int:
    """Reconcile again the seller's settlements in `only`: after the mapping changed, those it
    may unblock (balanced ones); from the schedule, those whose task was lost (imported)."""
    count = 0
    for record in store.list(seller_id):
        if record.get("status") in only:
            tasks.enqueue(Task(RECONCILE, seller_id, record["settlementId"], {"sha256": record["file"]["sha256"]}))
            count += 1
    return count


# --- finding Amazon's reports -------------------------------------------------------------------

def report_finished(notification: Notification, ports: Ports, now: datetime) -> Result:
    """REPORT_PROCESSING_FINISHED of a settlement report: fetch it (a task: it calls Amazon)."""
    body = get(notification.payload, "reportProcessingFinishedNotification") or {}
    seller_id = get(body, "sellerId") or notification.seller_id
    report_id, status = get(body, "reportId"), get(body, "processingStatus")
    if not (isinstance(seller_id, str) and isinstance(report_id, str) and isinstance(status, str)):
        raise InvalidNotification(f"{notification.label}: sellerId, reportId and processingStatus are needed")
    if status != "DONE":
        return Result(Outcome.SKIPPED, {"report_id": report_id, "status": status[:20]})
    document = get(body, "reportDocumentId")
    if not ports.store.note_report(seller_id, report_id, {"via": "notification", "at": iso(now)}, now):
        return Result(Outcome.DUPLICATE, {"report_id": report_id})
    ports.tasks.enqueue(Task(FETCH, seller_id, report_id,
                             {"documentId": document if isinstance(document, str) else None}))
    return Result(Outcome.CREATED, {"report_id": report_id})


def schedule_listing(sellers: Sellers, store: SettlementStore, tasks: TaskQueue, now: datetime) -> dict[str, Any]:
    """Daily: ask Amazon which settlement reports exist (settlements cannot be requested, only
    listed), and reconcile again any settlement whose task was lost (still imported)."""
    seller_ids = sorted(s["seller_id"] for s in sellers.sellers())
    again = 0
    for seller_id in seller_ids:
        tasks.enqueue(Task(LIST, seller_id, "settlements", {"since": iso(now - timedelta(days=KEPT_DAYS))}))
        again += remap(store, tasks, seller_id, only=(IMPORTED,))
    return {"sellers": len(seller_ids), "reconciledAgain": again}


def list_reports(task: Task, ports: Ports, now: datetime) -> Result:
    """One page of getReports: every report not seen yet is fetched; the next page follows."""
    assert ports.slots is not None and ports.amazon is not None
    ports.slots.take(task, "getReports", now.timestamp())
    reports, token = ports.amazon.list_reports(task.seller_id, str(task.param("since")), task.param("nextToken"))
    new = 0
    for report in reports:
        report_id, document = report.get("reportId"), report.get("reportDocumentId")
        if not isinstance(report_id, str) or report.get("reportType", REPORT_TYPE) != REPORT_TYPE:
            continue
        facts = {"via": "getReports", "at": iso(now), "createdTime": report.get("createdTime"),
                 "dataStartTime": report.get("dataStartTime"), "dataEndTime": report.get("dataEndTime")}
        if ports.store.note_report(task.seller_id, report_id, facts, now):
            ports.tasks.enqueue(Task(FETCH, task.seller_id, report_id,
                                     {"documentId": document if isinstance(document, str) else None}))
            new += 1
    if token:
        ports.tasks.enqueue(task.with_params(nextToken=token))
    return Result(Outcome.DONE, {"reports": len(reports), "new": new, "more": bool(token)})


def fetch_report(task: Task, ports: Ports, now: datetime) -> Result:
    """The report's document, downloaded once, archived and imported (its reconciliation follows)."""
    assert ports.slots is not None and ports.amazon is not None
    noted = ports.store.noted_report(task.seller_id, task.key) or {}
    if noted.get("status") == "imported":
        return Result(Outcome.SKIPPED, {"report_id": task.key})
    document = task.param("documentId")
    if not document:
        ports.slots.take(task, "getReport", now.timestamp())
        report = ports.amazon.report(task.seller_id, task.key)
        if report.get("processingStatus") != "DONE" or not report.get("reportDocumentId"):
            return Result(Outcome.ATTENTION, {"report_id": task.key,
                                              "attention": f"report is {str(report.get('processingStatus'))[:20]}"})
        ports.tasks.enqueue(task.with_params(documentId=str(report["reportDocumentId"])))
        return Result(Outcome.UPDATED, {"report_id": task.key})
    ports.slots.take(task, "getReportDocument", now.timestamp())
    data = ports.amazon.document(task.seller_id, str(document))
    try:
        claim, head = import_file(ports, task.seller_id, data, {"source": "report", "reportId": task.key}, now,
                                  check_rows=False)
    except BadFile as bad:
        return Result(Outcome.ATTENTION, {"report_id": task.key, "attention": f"the report is not a settlement "
                                                                             f"file: {bad.reason}"})
    ports.store.report_imported(task.seller_id, task.key, head.settlement_id, now)
    return Result(Outcome.CREATED if claim.new else Outcome.DUPLICATE,
                  {"report_id": task.key, "settlement_id": head.settlement_id})


# --- gaps ---------------------------------------------------------------------------------------

GAP_TOLERANCE = timedelta(hours=1)


def gaps(records: list[dict[str, Any]], reports: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """What is missing: a period between two settlements none covers, and a report Amazon listed
    that was not imported within a day."""
    out: list[dict[str, Any]] = []
    periods = sorted((r["period"]["start"], r["period"]["end"], r["settlementId"]) for r in records)
    for (_, end, before), (start, _, after) in zip(periods, periods[1:], strict=False):
        if datetime.fromisoformat(start) - datetime.fromisoformat(end) > GAP_TOLERANCE:
            out.append({"kind": "period", "from": end, "to": start, "between": [before, after],
                        "reason": f"no settlement covers {end} to {start}: a report never imported?"})
    for report in reports:
        seen = datetime.fromisoformat(report.get("at") or iso(now))
        if report.get("status") != "imported" and now - seen > timedelta(days=1):
            out.append({"kind": "report", "reportId": report["reportId"], "since": report.get("at"),
                        "reason": f"Amazon listed report {quote(report['reportId'])} on {report.get('at')}, "
                                  "not imported yet (see the work queue's dead letters)"})
    return out
