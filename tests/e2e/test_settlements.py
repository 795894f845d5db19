"""End to end through the HTTP API and the Amazon simulator, as Amazon and an accountant would:
`replay --serve` of a world whose settlement reports the daily getReports finds; each is
fetched once, reconciled to its deposit and journalled; the exports open as the formats say;
a person's upload of the same file changes nothing, a bad one names its line; the order view
answers "was it paid?"; a code Amazon invents waits for its account, then posts."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from chalicelib.flows.settlements.exports import FEC_COLUMNS, XERO_COLUMNS
from tests.e2e.harness import served_in_the_past, until

pytestmark = pytest.mark.e2e

TOKEN = "e2e-settlements-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_in_the_past(tmp_path_factory.mktemp("settlements"), TOKEN, days=10, seed=29, orders=60) as both:
        yield both


def _truth(scenario) -> dict:
    [seller] = scenario.expected["settlements"]
    return seller


def _posted(process, seller, ids):
    listed = process.ok("/settlements", {"sellerId": seller})["settlements"]
    found = {s["settlementId"]: s for s in listed}
    return found if all(found.get(i, {}).get("status") == "posted" for i in ids) else None


def test_every_report_is_fetched_once_and_balances_to_its_deposit(served):
    process, scenario = served
    truth = _truth(scenario)
    seller, ids = truth["sellerId"], [r["settlementId"] for r in truth["reports"]]
    found = until(lambda: _posted(process, seller, ids), seconds=120)
    assert found, process.ok("/settlements", {"sellerId": seller})
    for report in truth["reports"]:
        got = process.ok(f"/settlements/{report['settlementId']}", {"sellerId": seller})
        assert got["deposit"]["amount"] == report["totalAmount"] and got["rows"] == report["rows"]
        assert got["control"]["holds"] and got["control"]["difference"] == "0.00"
        assert sum(Decimal(v) for v in got["totals"].values()) == Decimal(report["totalAmount"])
        journal = got["journal"]
        assert journal["balanced"] and Decimal(journal["rounding"]) == 0 and not journal["unmapped"]
        assert all(e["debits"] == e["credits"] for e in journal["entries"])
        assert got["source"] == "report" and got["reportId"] == report["reportId"]
    assert len(truth["reports"][0]["start"]) and len(found) == len(truth["reports"])
    first = process.ok(f"/settlements/{ids[0]}", {"sellerId": seller})
    assert len(first["journal"]["entries"]) == 2  # the first period crosses a month end
    calls = process.amazon("calls", operation="getReportDocument")["calls"]
    assert len(calls) == len(ids)  # each document fetched once, however often getReports lists it
    assert process.ok("/settlements", {"sellerId": seller})["gaps"] == []


def test_the_deliberate_variance_is_listed_with_its_reason(served):
    process, scenario = served
    variance = _truth(scenario)["variance"]
    seller = _truth(scenario)["sellerId"]
    until(lambda: _posted(process, seller, [variance["settlementId"]]), seconds=120)
    got = process.ok(f"/settlements/{variance['settlementId']}", {"sellerId": seller})
    [listed] = [v for v in got["variancesShown"] if v["orderId"] == variance["orderId"]]
    assert (listed["what"], listed["difference"]) == ("sales", variance["difference"])
    assert listed["settled"] == variance["settled"] and "apart" in listed["reason"]


def test_the_order_view_answers_was_it_paid(served):
    process, scenario = served
    truth = _truth(scenario)
    until(lambda: _posted(process, truth["sellerId"], [r["settlementId"] for r in truth["reports"]]), seconds=120)
    for paid in truth["paid"][:4]:
        payment = process.ok(f"/orders/{paid['orderId']}")["payment"]
        mine = [s for s in payment["settlements"] if s["settlementId"] == paid["settlementId"]]
        assert payment["paid"] and mine and mine[0]["net"] == paid["net"] and mine[0]["fees"] == paid["fees"], paid


def test_exports_open_in_their_formats_and_balance(served):
    process, scenario = served
    truth = _truth(scenario)
    seller, sid = truth["sellerId"], truth["reports"][0]["settlementId"]
    until(lambda: _posted(process, seller, [sid]), seconds=120)
    fec = process.get(f"/settlements/{sid}/export", {"sellerId": seller, "format": "fec"})
    assert fec.status_code == 200 and "FEC" in fec.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(fec.text), delimiter="\t"))
    assert tuple(rows[0]) == FEC_COLUMNS and all(len(r) == 18 for r in rows)
    money = [(Decimal(r[11].replace(",", ".")), Decimal(r[12].replace(",", "."))) for r in rows[1:]]
    assert sum(d for d, _ in money) == sum(c for _, c in money) > 0
    assert all(r[2].isdigit() for r in rows[1:])  # EcritureNum: the seller's journal sequence
    xero = list(csv.DictReader(io.StringIO(process.get(f"/settlements/{sid}/export",
                                                       {"sellerId": seller, "format": "xero"}).text)))
    assert set(xero[0]) == set(XERO_COLUMNS) and sum(Decimal(r["*Amount"]) for r in xero) == 0
    qbo = list(csv.DictReader(io.StringIO(process.get(f"/settlements/{sid}/export",
                                                      {"sellerId": seller, "format": "qbo"}).text)))
    assert sum(Decimal(r["Debits"] or 0) for r in qbo) == sum(Decimal(r["Credits"] or 0) for r in qbo)
    assert process.get(f"/settlements/{sid}/export", {"sellerId": seller, "format": "pdf"}).status_code == 400


def test_uploads_the_same_file_changes_nothing_a_bad_one_names_its_line(served):
    process, scenario = served
    truth = _truth(scenario)
    seller, report = truth["sellerId"], truth["reports"][1]
    until(lambda: _posted(process, seller, [report["settlementId"]]), seconds=120)
    text = next(r["document"] for r in scenario.world["reports"] if r["reportId"] == report["reportId"])
    headers = {"Content-Type": "text/tab-separated-values"}
    again = process.request("POST", "/settlements/import", params={"sellerId": seller}, data=text.encode(),
                            headers=headers)
    assert again.status_code == 200 and again.json()["imported"] is False
    lines = text.splitlines()
    cells = lines[4].split("\t")
    cells[14] = "12,3,4"
    bad = "\n".join([*lines[:4], "\t".join(cells), *lines[5:]]).replace(report["settlementId"], "99999999901")
    refused = process.request("POST", "/settlements/import", params={"sellerId": seller}, data=bad.encode(),
                              headers=headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["details"]["problem"]["line"] == 5
    assert refused.json()["details"]["problem"]["column"] == "amount"
    assert process.get("/settlements/99999999901", {"sellerId": seller}).status_code == 404


def test_a_new_code_waits_for_its_account_then_posts(served):
    process, scenario = served
    truth = _truth(scenario)
    seller, report = truth["sellerId"], truth["reports"][0]  # its period holds a month start: a subscription fee
    text = next(r["document"] for r in scenario.world["reports"] if r["reportId"] == report["reportId"])
    assert "Subscription Fee" in text
    new = text.replace(report["settlementId"], "99999999902").replace("Subscription Fee", "Brand New Amazon Fee")
    created = process.request("POST", "/settlements/import", params={"sellerId": seller}, data=new.encode(),
                              headers={"Content-Type": "text/tab-separated-values"})
    assert created.status_code == 202, created.text
    waiting = until(lambda: (lambda s: s if s["status"] != "imported" else None)(
        process.ok("/settlements/99999999902", {"sellerId": seller})), seconds=60)
    assert waiting, process.ok("/failures")
    assert waiting["status"] == "balanced" and "Brand New Amazon Fee" in waiting["reasons"][0]
    assert process.get("/settlements/99999999902/export", {"sellerId": seller}).status_code == 409
    mapping = {"rules": [{"amountDescription": "Brand New Amazon Fee", "account": "628100", "name": "Other fees"}]}
    put = process.request("PUT", "/accounts/mapping", params={"sellerId": seller}, json=mapping)
    assert put.status_code == 200 and put.json()["reconciling"] == 1, put.text
    posted = until(lambda: _posted(process, seller, ["99999999902"]), seconds=60)
    assert posted, process.ok("/settlements/99999999902", {"sellerId": seller})
    lines = process.ok("/settlements/99999999902", {"sellerId": seller})["journal"]["entries"][-1]["lines"]
    assert any(line["account"] == "628100" for line in lines)
