"""The settlements store's contract, on the fake (tests/fakes.py) and on DynamoDB and S3 (moto),
with the same tests: a settlement claimed once, replaced only when blocked and by another file,
moved on only from its file and its states; payments, the report ledger and the mapping."""
from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime

import pytest

from chalicelib.flows.settlements.store import DynamoSettlements, SettlementFiles, digest, file_key
from tests.fakes import FakeFiles, FakeSettlements

SELLER = "A2EUQ1WTGCTBG2"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "moto"])
def stores(request):
    if request.param == "fake":
        return FakeSettlements(), FakeFiles()
    request.getfixturevalue("aws_stack")
    return DynamoSettlements(), SettlementFiles()


def _record(settlement_id: str, sha: str) -> dict:
    return {"settlementId": settlement_id, "sellerId": SELLER, "period": {"start": "2026-11-20T18:03:49Z",
                                                                         "end": "2026-12-04T18:03:49Z"},
            "depositDate": "2026-12-06T18:03:49Z", "deposit": "24.05", "currency": "EUR",
            "file": {"key": f"k/{sha}", "sha256": sha, "bytes": 10, "source": "upload"}, "importedAt": "x"}


def test_a_settlement_is_claimed_once_and_moves_on_from_its_file(stores):
    store, _ = stores
    sid = str(random.randrange(10**10))
    first = store.claim(SELLER, sid, _record(sid, "a" * 64), NOW)
    assert first.new and first.record["status"] == "imported"
    second = store.claim(SELLER, sid, _record(sid, "b" * 64), NOW)
    assert not second.new and second.record["file"]["sha256"] == "a" * 64
    blocked = {**store.get(SELLER, sid), "status": "blocked", "reasons": ["cut short"]}
    assert not store.settle(SELLER, sid, "b" * 64, blocked, ("imported",), NOW)  # another file's worker
    assert store.settle(SELLER, sid, "a" * 64, blocked, ("imported",), NOW)
    assert not store.claim(SELLER, sid, _record(sid, "a" * 64), NOW).new  # the same file cannot unblock it
    replaced = store.claim(SELLER, sid, _record(sid, "b" * 64), NOW)
    assert replaced.new and store.get(SELLER, sid)["file"]["sha256"] == "b" * 64
    posted = {**store.get(SELLER, sid), "status": "posted"}
    assert store.settle(SELLER, sid, "b" * 64, posted, ("imported", "balanced"), NOW)
    assert not store.settle(SELLER, sid, "b" * 64, {**posted, "status": "blocked"}, ("imported", "balanced"), NOW)
    assert not store.claim(SELLER, sid, _record(sid, "c" * 64), NOW).new
    assert sid in [r["settlementId"] for r in store.list(SELLER)]


def test_payments_reports_and_mapping(stores):
    store, _ = stores
    order = f"302-{random.randrange(10**7):07d}-1234567"
    written = store.save_payments(SELLER, "111", ((order, {"net": "1.00", "currency": "EUR"}),), NOW)
    store.save_payments(SELLER, "112", iter([(order, {"net": "-0.50", "currency": "EUR"})]), NOW)
    assert written == 1
    assert [(p["settlementId"], p["net"]) for p in store.payments_of(SELLER, order)] == [("111", "1.00"),
                                                                                       ("112", "-0.50")]
    report = f"r{random.randrange(10**9)}"
    assert store.note_report(SELLER, report, {"via": "getReports", "at": "2026-12-07T09:00:00Z"}, NOW)
    assert not store.note_report(SELLER, report, {"via": "notification"}, NOW)
    assert store.noted_report(SELLER, report)["status"] == "listed"
    store.report_imported(SELLER, report, "111", NOW)
    noted = store.noted_report(SELLER, report)
    assert (noted["status"], noted["settlementId"], noted["via"]) == ("imported", "111", "getReports")
    assert report in [r["reportId"] for r in store.reports(SELLER)]
    store.save_mapping(SELLER, {"rules": [], "journalCode": "AMZ"}, NOW)
    assert store.mapping(SELLER)["journalCode"] == "AMZ"


def test_files_are_written_once_and_stream_back(stores):
    _, files = stores
    text = "settlement-id\tamount\r\n1\t2,00\n" * 3
    sha = digest(text.encode())
    key = file_key(SELLER, "1", sha)
    files.put(key, gzip.compress(text.encode(), mtime=0), sha)
    files.put(key, gzip.compress(text.encode(), mtime=0), sha)  # a retry: fine
    assert "".join(files.lines(key)) == text


def test_posting_numbers_the_journal_without_a_gap_even_when_racing(stores):
    import threading

    store, _ = stores
    seller = f"A{random.randrange(10**9)}"

    def record(sid: str, sha: str, entries: int) -> dict:
        base = {**_record(sid, sha), "sellerId": seller, "status": "posted"}
        return {**base, "journal": {"entries": [{"index": i, "lines": []} for i in range(1, entries + 1)]}}

    ids = [str(random.randrange(10**10)) for _ in range(6)]
    for sid in ids:
        store.claim(seller, sid, _record(sid, sid.rjust(64, "0")), NOW)
    assert not store.post(seller, ids[0], "f" * 64, record(ids[0], "f" * 64, 2), ("imported",), NOW)  # another file
    threads = [threading.Thread(target=store.post, args=(seller, sid, sid.rjust(64, "0"),
                                                         record(sid, sid.rjust(64, "0"), 2), ("imported",), NOW))
               for sid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = sorted(e["number"] for sid in ids for e in store.get(seller, sid)["journal"]["entries"])
    assert numbers == list(range(1, 13))
    for sid in ids:  # each settlement's entries in order, one after the other
        mine = [e["number"] for e in store.get(seller, sid)["journal"]["entries"]]
        assert mine[1] == mine[0] + 1
    assert not store.post(seller, ids[0], ids[0].rjust(64, "0"), record(ids[0], ids[0].rjust(64, "0"), 2),
                          ("imported",), NOW)  # posted once
