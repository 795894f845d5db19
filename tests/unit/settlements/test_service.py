"""The settlements flow on fakes: a file imported once, reconciled, matched and journalled;
Amazon's notification and the getReports backstop; a blocked file replaced; a new mapping."""
from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from chalicelib.core.envelope import parse_notification
from chalicelib.core.errors import InvalidNotification
from chalicelib.core.tasks import Outcome, Slots, Task
from chalicelib.flows.settlements import rules, service
from chalicelib.flows.settlements.service import Ports
from tests.fakes import FakeFiles, FakeLimiter, FakeSettlements, FakeTasks
from tests.unit.settlements import samples

SELLER = "A2EUQ1WTGCTBG2"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "spapi" / "notifications"


class Documents:
    def __init__(self, by_order=None):
        self.by_order = by_order or {}

    def issued_since(self, seller_id, since):
        return self.by_order


class Reports:
    """Amazon's Reports API as the service sees it: pages of reports, and their documents."""

    def __init__(self, pages=None, documents=None, reports=None):
        self.pages, self.documents, self.reports = pages or [[]], documents or {}, reports or {}
        self.calls: list[tuple] = []

    def list_reports(self, seller_id, created_since, next_token):
        self.calls.append(("getReports", next_token))
        index = int(next_token or 0)
        return self.pages[index], (str(index + 1) if index + 1 < len(self.pages) else None)

    def report(self, seller_id, report_id):
        self.calls.append(("getReport", report_id))
        return self.reports[report_id]

    def document(self, seller_id, document_id):
        self.calls.append(("getReportDocument", document_id))
        return self.documents[document_id]


def ports(documents=None, amazon=None) -> Ports:
    return Ports(FakeSettlements(), FakeFiles(), FakeTasks(), documents or Documents(), Slots(FakeLimiter()),
                 amazon or Reports())


def run_tasks(p: Ports) -> list:
    """Run the queued tasks (and those they queue) to the end, as the queues would."""
    results = []
    runners = {service.RECONCILE: service.reconcile_settlement, service.FETCH: service.fetch_report,
               service.LIST: service.list_reports}
    while p.tasks.sent:
        task, _ = p.tasks.sent.pop(0)
        results.append(runners[task.kind](task, p, NOW))
    return results


def test_an_upload_is_imported_once_reconciled_and_posted():
    p = ports(Documents({"302-1111111-1111111": [rules.Issued("INV-7", "invoice", Decimal("33.99"), "EUR"),
                                                 rules.Issued("CN-2", "credit_note", Decimal("-30.00"), "EUR")]}))
    claim, head = service.import_file(p, SELLER, samples.example().encode(), {"source": "upload"}, NOW)
    assert claim.new and head.settlement_id == "11795245201"
    [result] = run_tasks(p)
    record = p.store.get(SELLER, "11795245201")
    assert result.outcome is Outcome.DONE and record["status"] == "posted" and record["reasons"] == []
    assert record["control"]["holds"] and record["rows"] == 15 and record["orders"] == 2
    assert record["totals"]["reserve"] == "25.00" and record["journal"]["balanced"]
    assert [e["number"] for e in record["journal"]["entries"]] == [1, 2]  # the seller's journal, from 1
    # The second order has no document: a variance with its reason; the first matches to the cent.
    assert [(v["orderId"], v["what"]) for v in record["variances"]] == [("302-2222222-2222222", "sales")]
    assert "no invoice" in record["variances"][0]["reason"]
    paid = p.store.payments_of(SELLER, "302-1111111-1111111")
    assert [(x["settlementId"], x["net"], x["fees"]) for x in paid] == [("11795245201", "-2.81", "-6.80")]
    # The same file again, or gzip-compressed: nothing changes, nothing is queued.
    again, _ = service.import_file(p, SELLER, gzip.compress(samples.example().encode()), {"source": "upload"}, NOW)
    assert not again.new and again.record["status"] == "posted" and not p.tasks.sent


def test_a_reconciliation_lost_is_queued_again_by_the_upload_and_the_schedule():
    p = ports()
    service.import_file(p, SELLER, samples.example().encode(), {"source": "upload"}, NOW)
    p.tasks.sent.clear()  # the task never reached its queue
    again, _ = service.import_file(p, SELLER, samples.example().encode(), {"source": "upload"}, NOW)
    assert not again.new and [t.kind for t in p.tasks.tasks] == [service.RECONCILE]
    p.tasks.sent.clear()
    sellers = type("S", (), {"sellers": lambda self: [{"seller_id": SELLER}]})()
    assert service.schedule_listing(sellers, p.store, p.tasks, NOW)["reconciledAgain"] == 1
    assert sorted(t.kind for t in p.tasks.tasks) == [service.LIST, service.RECONCILE]


def test_a_bad_row_refuses_an_upload_with_its_line_and_a_cut_file_is_blocked_then_replaced():
    p = ports()
    bad = samples.example().replace("\t-3.20\t", "\t-3,2O\t")
    with pytest.raises(service.BadFile) as refused:
        service.import_file(p, SELLER, bad.encode(), {"source": "upload"}, NOW)
    assert refused.value.problem["line"] == 7 and refused.value.problem["column"] == "amount"
    assert not p.store.records and not p.files.files
    cut = "\n".join(samples.example().splitlines()[:-2]) + "\n"  # the last rows lost in a download
    service.import_file(p, SELLER, cut.encode(), {"source": "upload"}, NOW)
    [result] = run_tasks(p)
    record = p.store.get(SELLER, "11795245201")
    assert result.outcome is Outcome.ATTENTION and record["status"] == "blocked"
    assert "less than paid" in record["reasons"][0] or "more than paid" in record["reasons"][0]
    again, _ = service.import_file(p, SELLER, cut.encode(), {"source": "upload"}, NOW)
    assert not again.new  # the same file cannot unblock itself
    fixed, _ = service.import_file(p, SELLER, samples.example().encode(), {"source": "upload"}, NOW)
    assert fixed.new
    run_tasks(p)
    assert p.store.get(SELLER, "11795245201")["status"] == "posted"


def test_an_unmapped_code_waits_for_the_mapping_then_posts():
    p = ports()
    text = samples.example().replace("Storage Fee", "Inbound Placement Service Fee")
    service.import_file(p, SELLER, text.encode(), {"source": "upload"}, NOW)
    run_tasks(p)
    record = p.store.get(SELLER, "11795245201")
    assert record["status"] == "balanced" and "PUT /accounts/mapping" in record["reasons"][0]
    assert record["journal"]["unmapped"][0]["amountDescription"] == "Inbound Placement Service Fee"
    from chalicelib.flows.settlements import journal

    p.store.save_mapping(SELLER, journal.chart_json(journal.chart_of({"rules": [
        {"amountDescription": "Inbound Placement Service Fee", "account": "624200", "name": "FBA inbound"}]})), NOW)
    assert service.remap(p.store, p.tasks, SELLER) == 1
    run_tasks(p)
    record = p.store.get(SELLER, "11795245201")
    assert record["status"] == "posted" and not record["journal"]["unmapped"]
    assert service.remap(p.store, p.tasks, SELLER) == 0  # a posted journal never changes


def _report_notification(report_id="rep-1", status="DONE", report_type="GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"):
    schema = json.loads((EXAMPLES / "ReportProcessingFinishedNotification.json").read_text())
    example = json.loads(json.dumps(schema["examples"][0]))
    body = example["payload"]["reportProcessingFinishedNotification"] if "payload" in example else \
        example["Payload"]["reportProcessingFinishedNotification"]
    body.update({"sellerId": SELLER, "reportId": report_id, "reportType": report_type, "processingStatus": status,
                 "reportDocumentId": f"doc-{report_id}"})
    return example


def test_amazons_notification_fetches_the_report_once():
    amazon = Reports(documents={"doc-rep-1": gzip.decompress(gzip.compress(samples.example().encode()))})
    p = ports(amazon=amazon)
    note = parse_notification(_report_notification())
    assert service.report_finished(note, p, NOW).outcome is Outcome.CREATED
    assert service.report_finished(note, p, NOW).outcome is Outcome.DUPLICATE
    results = run_tasks(p)
    assert [r.outcome for r in results] == [Outcome.CREATED, Outcome.DONE]
    assert amazon.calls == [("getReportDocument", "doc-rep-1")]
    assert p.store.noted_report(SELLER, "rep-1")["status"] == "imported"
    assert p.store.get(SELLER, "11795245201")["file"]["reportId"] == "rep-1"
    cancelled = parse_notification(_report_notification("rep-2", status="CANCELLED"))
    assert service.report_finished(cancelled, p, NOW).outcome is Outcome.SKIPPED
    broken = _report_notification()
    body = broken.get("payload", broken.get("Payload"))["reportProcessingFinishedNotification"]
    del body["reportId"]
    with pytest.raises(InvalidNotification, match="reportId"):
        service.report_finished(parse_notification(broken), p, NOW)


def test_the_backstop_lists_every_page_and_fetches_only_the_unseen():
    report = {"reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2", "processingStatus": "DONE"}
    amazon = Reports(pages=[[{**report, "reportId": "r1", "reportDocumentId": "d1"}],
                            [{**report, "reportId": "r2"}, {**report, "reportId": "r1", "reportDocumentId": "d1"}]],
                     documents={"d1": samples.example().encode(),
                                "d2": samples.example().replace("11795245201", "11795245202").encode()},
                     reports={"r2": {**report, "reportId": "r2", "reportDocumentId": "d2"}})
    p = ports(amazon=amazon)
    service.schedule_listing(type("S", (), {"sellers": lambda self: [{"seller_id": SELLER}]})(), p.store, p.tasks,
                             NOW)
    run_tasks(p)
    assert [c[0] for c in amazon.calls].count("getReports") == 2
    assert sorted(r["settlementId"] for r in p.store.list(SELLER)) == ["11795245201", "11795245202"]
    assert all(r["status"] == "posted" for r in p.store.list(SELLER))
    amazon.calls.clear()
    service.schedule_listing(type("S", (), {"sellers": lambda self: [{"seller_id": SELLER}]})(), p.store, p.tasks,
                             NOW)
    run_tasks(p)
    assert [c[0] for c in amazon.calls] == ["getReports", "getReports"]  # nothing fetched twice


def test_gaps_between_settlements_and_reports_never_imported():
    records = [{"settlementId": "1", "period": {"start": "2026-11-06T00:00:00Z", "end": "2026-11-20T00:00:00Z"}},
               {"settlementId": "3", "period": {"start": "2026-12-04T00:00:00Z", "end": "2026-12-18T00:00:00Z"}}]
    reports = [{"reportId": "r9", "status": "listed", "at": "2026-12-01T00:00:00Z"}]
    found = service.gaps(records, reports, NOW)
    assert [g["kind"] for g in found] == ["period", "report"]
    assert found[0]["from"] == "2026-11-20T00:00:00Z" and found[0]["to"] == "2026-12-04T00:00:00Z"
    assert service.gaps(records[:1], [], NOW) == []


def test_a_report_that_is_not_a_settlement_is_flagged_not_retried():
    amazon = Reports(documents={"d": b"this is not a settlement\n"})
    p = ports(amazon=amazon)
    result = service.fetch_report(Task(service.FETCH, SELLER, "r", {"documentId": "d"}), p, NOW)
    assert result.outcome is Outcome.ATTENTION and "not a settlement" in result.facts["attention"]
