"""End to end through the HTTP API, as an accountant and a warehouse would: `replay --serve` with
a world of two sellers, one with an invoicing profile (world `sellers[].profile`), one without.
Every shipped order of the first gets one invoice per package, numbered without gaps, to the
cent of what Amazon charged, its PDF downloadable and complete; the second seller's orders wait,
visibly, until its profile is PUT; a package the warehouse ships is invoiced once."""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from tests.e2e.harness import serve_scenario, until

pytestmark = pytest.mark.e2e

TOKEN = "e2e-invoices-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from infra.local.scenario import build_scenario

    start = (datetime.now(UTC) - timedelta(days=20)).replace(microsecond=0)
    scenario = build_scenario(seed=13, orders=70, sellers=2, start=start, lost=0, malformed=0, unhandled=0)
    process = serve_scenario(tmp_path_factory.mktemp("invoices"), scenario, "--rate-scale", "100",
                             "--schedule-every", "5", token=TOKEN)
    try:
        yield process, scenario
    finally:
        process.stop()


def _sellers(scenario):
    with_profile = [s["sellerId"] for s in scenario.world["sellers"] if s.get("profile")]
    later = scenario.expected["profiles_later"]
    return with_profile[0], later[0]


def _documents(process, seller_id):
    found, params = [], {"sellerId": seller_id, "limit": 100}
    while True:
        page = process.ok("/invoices", params)
        found += page["documents"]
        if not page["nextToken"]:
            return found
        params["nextToken"] = page["nextToken"]


def _shipped(scenario, seller_id):
    return {o["order"]["orderId"]: o["order"] for o in scenario.world["orders"]
            if o["sellerId"] == seller_id and o["order"]["fulfillment"]["fulfillmentStatus"] == "SHIPPED"}


def test_every_shipped_order_is_invoiced_once_per_package_to_the_cent(served):
    process, scenario = served
    seller, _ = _sellers(scenario)
    shipped = _shipped(scenario, seller)
    assert shipped
    documents = until(lambda: (d := _documents(process, seller)) and {x["orderId"] for x in d} >= set(shipped)
                      and all(x["state"] == "rendered" for x in d) and d, seconds=120)
    assert documents, "every shipped order invoiced, its PDF drawn"
    by_order = defaultdict(list)
    for doc in documents:
        by_order[doc["orderId"]].append(doc)
    for order_id, order in shipped.items():
        invoices = [d for d in by_order[order_id] if d["type"] == "invoice"]
        expected = ([f"package#{p['packageReferenceId']}" for p in order.get("packages", [])]
                    if order["fulfillment"]["fulfilledBy"] == "MERCHANT" else ["amazon#1"])
        assert sorted(d["source"] for d in invoices) == sorted(expected), order_id
        total = sum(Decimal(d["total"]) for d in invoices)
        assert total == Decimal(order["proceeds"]["grandTotal"]["amount"]), order_id
        for doc in invoices:
            assert doc["attention"] is None, (order_id, doc["attention"])
            assert sum(Decimal(v["taxable"]) + Decimal(v["vat"]) for v in doc["vatByRate"]) == Decimal(doc["total"])
    series = defaultdict(list)
    for doc in documents:
        head, _, sequence = doc["number"].rpartition("-")
        series[head].append(int(sequence))
    for head, sequences in series.items():
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), head


def test_an_invoice_reads_back_with_its_pdf_complete(served):
    import pypdf

    process, scenario = served
    seller, _ = _sellers(scenario)
    doc = until(lambda: next((d for d in _documents(process, seller) if d["state"] == "rendered"), None), seconds=120)
    assert doc
    found = process.ok(f"/invoices/{doc['number']}", {"sellerId": seller})
    assert found["number"] == doc["number"] and found["pdfUrl"]
    body = requests.get(found["pdfUrl"], timeout=30)
    assert body.status_code == 200 and body.content.startswith(b"%PDF")
    text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(body.content)).pages)
    profile = next(s["profile"] for s in scenario.world["sellers"] if s["sellerId"] == seller)
    for expected in (doc["number"], doc["orderId"], profile["legalName"], profile["address"]["line1"],
                     *[line["sku"] for line in found["lines"] if line["sku"]]):
        assert expected in text, expected
    order_view = process.ok(f"/orders/{doc['orderId']}")
    assert order_view["invoice"]["state"] == "invoiced"
    assert doc["number"] in [d["number"] for d in order_view["invoice"]["documents"]]
    listed = process.ok(f"/orders/{doc['orderId']}/invoices")
    assert doc["number"] in [d["number"] for d in listed["documents"]]
    # The same document under a token that may not read invoices: refused.
    assert process.request("GET", f"/invoices/{doc['number']}", token="nope").status_code in (401, 403)


def test_a_seller_without_a_profile_waits_visibly_until_it_is_set(served):
    process, scenario = served
    _, later = _sellers(scenario)
    seller = later["sellerId"]
    shipped = _shipped(scenario, seller)
    assert shipped
    waiting = until(lambda: (process.ok("/health")["flows"].get("invoices") or {}).get("waitingForProfile"),
                    seconds=120)
    assert waiting
    some = next(iter(shipped))
    assert process.ok(f"/orders/{some}")["invoice"]["state"] == "waiting for the seller's profile"
    assert process.request("GET", f"/sellers/{seller}/profile").status_code == 404
    wrong = process.request("PUT", f"/sellers/{seller}/profile", json={**later["profile"], "vatNumbers": {"DE": "X"}})
    assert wrong.status_code == 400 and "vatNumbers" in wrong.json()["message"], wrong.text
    put = process.request("PUT", f"/sellers/{seller}/profile", json=later["profile"])
    assert put.status_code == 200, put.text
    assert process.ok(f"/sellers/{seller}/profile")["profile"]["legalName"] == later["profile"]["legalName"]
    invoiced = until(lambda: {d["orderId"] for d in _documents(process, seller)} >= set(shipped), seconds=120)
    assert invoiced
    assert until(lambda: not process.ok("/health")["flows"]["invoices"]["waitingForProfile"], seconds=60)


def test_a_package_the_warehouse_ships_is_invoiced_once(served):
    process, scenario = served
    seller, _ = _sellers(scenario)
    unshipped = [o["order"] for o in scenario.world["orders"]
                 if o["sellerId"] == seller and o["order"]["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
                 and o["order"]["fulfillment"]["fulfilledBy"] == "MERCHANT"]
    assert unshipped
    order_id = unshipped[0]["orderId"]
    order = process.ok(f"/orders/{order_id}")
    body = {"carrierCode": "DHL", "trackingNumber": "00340434161234567891",
            "shipDate": (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "items": [{"orderItemId": i["orderItemId"], "quantity": i["quantity"]} for i in order["items"]]}
    assert process.request("POST", f"/orders/{order_id}/shipments", json=body).status_code == 200
    documents = until(lambda: process.ok(f"/orders/{order_id}/invoices")["documents"], seconds=120)
    assert [d["source"] for d in documents] == ["package#1"]
    # Amazon's ORDER_CHANGE (SHIPPED) and getOrder's package come later: still one invoice.
    assert until(lambda: process.ok(f"/orders/{order_id}")["status"] == "SHIPPED", seconds=60)
    process.request("GET", "/health")
    assert [d["number"] for d in process.ok(f"/orders/{order_id}/invoices")["documents"]] == [
        documents[0]["number"]]


def _settled(process, seller):
    documents = _documents(process, seller)
    return documents if documents and all(d["upload"]["status"] in ("accepted", "rejected", "held")
                                          for d in documents) else None


def test_every_document_reaches_amazon_once_and_its_answer_is_kept(served):
    process, scenario = served
    seller, _ = _sellers(scenario)
    documents = until(lambda: _settled(process, seller), seconds=180)
    assert documents, [d["upload"] for d in _documents(process, seller)][:5]
    feeds = process.amazon("feeds", sellerId=seller)["feeds"]
    sent = [f["feedOptions"]["metadata:invoicenumber"] for f in feeds]
    assert sorted(sent) == sorted(d["number"] for d in documents if d["upload"]["status"] != "held")  # once each
    vcs = scenario.expected["vcs_rejected"]
    for doc in documents:
        if vcs and doc["marketplaceId"] == vcs["marketplaceId"]:
            assert doc["upload"]["status"] == "rejected" and doc["upload"]["amazonCode"] == "79525", doc["upload"]
            assert "vcsMarketplaces" in doc["upload"]["explanation"]
            assert doc["late"] is False or doc["uploadDeadline"]
        else:
            assert doc["upload"]["status"] == "accepted", (doc["number"], doc["upload"])
    feed = next(f for f in feeds if f["feedOptions"]["metadata:invoicenumber"] == documents[0]["number"])
    assert feed["feedOptions"]["metadata:orderid"] == documents[0]["orderId"]
    assert feed["feedOptions"]["metadata:totalamount"] == documents[0]["total"].lstrip("-")
    accepted = next(d for d in documents if d["upload"]["status"] == "accepted")
    again = process.request("POST", f"/invoices/{accepted['number']}/upload", json={})
    assert again.status_code == 409 and "credit note" in again.json()["message"], again.text
    rejected = [d for d in documents if d["upload"]["status"] == "rejected"]
    if rejected:
        resent = process.request("POST", f"/invoices/{rejected[0]['number']}/upload", json={})
        assert resent.status_code == 200 and resent.json()["upload"]["attempt"] == 2, resent.text
        answered = until(lambda: (d := process.ok(f"/invoices/{rejected[0]['number']}"))["upload"]["status"]
                         == "rejected" and d["upload"]["attempt"] == 2 and d, seconds=60)
        assert answered, process.ok(f"/invoices/{rejected[0]['number']}")
        assert len([f for f in process.amazon("feeds", sellerId=seller)["feeds"]
                    if f["feedOptions"]["metadata:invoicenumber"] == rejected[0]["number"]]) == 2
    listed = process.ok("/invoices", {"sellerId": seller, "status": "accepted", "limit": 100})["documents"]
    assert listed and all(d["upload"]["status"] == "accepted" for d in listed)


def test_a_refund_gives_one_credit_note_naming_its_invoice_to_the_cent(served):
    process, scenario = served
    refunds = [r for r in scenario.expected["refunds"] if r["sellerId"] == _sellers(scenario)[0]]
    assert refunds, "the scenario refunds an order of the seller with a profile"
    for refund in refunds:
        notes = until(lambda r=refund: [d for d in process.ok(f"/orders/{r['orderId']}/invoices")["documents"]
                                        if d["type"] == "creditNote"], seconds=120)
        assert len(notes) == 1, notes  # the notification came twice, and once more under another id
        note = notes[0]
        invoices = [d for d in process.ok(f"/orders/{refund['orderId']}/invoices")["documents"]
                    if d["type"] == "invoice"]
        assert note["corrects"] in [d["number"] for d in invoices]
        assert Decimal(note["total"]) == Decimal(refund["total"]) and note["source"].startswith(
            f"refund#{refund['transactionId']}#")
        assert until(lambda n=note: process.ok(f"/invoices/{n['number']}")["upload"]["status"] in (
            "accepted", "rejected"), seconds=120)
        feeds = [f for f in process.amazon("feeds", sellerId=refund["sellerId"])["feeds"]
                 if f["feedOptions"].get("metadata:invoicenumber") == note["number"]]
        assert len(feeds) == 1 and feeds[0]["feedOptions"]["metadata:documenttype"] == "CreditNote"
        assert feeds[0]["feedOptions"]["metadata:transactionid"] == refund["transactionId"]
    calls = process.amazon("calls", operation="listTransactions")["calls"]
    assert calls, "the refunds were read from the Finances API"
