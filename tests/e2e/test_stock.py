"""End to end through the HTTP API and the Amazon simulator, as a warehouse and a seller would:
`replay --serve` of a world with the warehouse's counts, Amazon's listings and FBA stock; the
orders' notifications reserve, release and consume; the push schedule brings Amazon's merchant
quantities to available-to-sell (patches for a few, one listings feed for many); the warehouse
counts, adjusts and imports; the reconciliation corrects FBA drift."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import served_in_the_past, until

pytestmark = pytest.mark.e2e

TOKEN = "e2e-stock-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_in_the_past(tmp_path_factory.mktemp("stock"), TOKEN, days=10, seed=23, orders=70) as both:
        yield both


def _seller(scenario) -> str:
    return scenario.world["sellers"][0]["sellerId"]


def _listing(process, seller, sku):
    found = process.amazon("listings", sellerId=seller, sku=sku)["listings"]
    return found[0]["quantity"] if found else None


def test_every_sku_ends_as_the_orders_and_counts_say_and_amazon_follows(served):
    process, scenario = served
    seller = _seller(scenario)
    expected = {sku: truth for sku, truth in scenario.expected["stock"].items() if truth["sellerId"] == seller}

    def settled():
        items = process.ok("/stock", {"sellerId": seller, "limit": 100})["items"]
        got = {i["sku"]: i for i in items if not i["sku"].endswith("-FBA")}
        return got if all(sku in got and got[sku]["available"] == t["available"] and got[sku]["state"] == t["state"]
                          for sku, t in expected.items()) else None

    got = until(settled, seconds=120)
    assert got, {sku: (i["available"], i["state"]) for sku, i in (got or {}).items()}
    for sku, truth in expected.items():
        assert got[sku]["oversold"] == truth["oversold"], sku
        assert got[sku]["onReorderList"] == truth["onReorderList"], sku
    amazon = until(lambda: all(_listing(process, seller, sku) == t["amazonQuantity"]
                               for sku, t in expected.items() if t["amazonQuantity"] is not None), seconds=90)
    assert amazon, {sku: (_listing(process, seller, sku), t["amazonQuantity"]) for sku, t in expected.items()}
    unknown = next(sku for sku, t in expected.items() if t["role"] == "unknown_to_amazon")
    assert "not one of seller" in process.ok(f"/stock/{unknown}", {"sellerId": seller})["invalid"]
    oversold = process.ok("/stock", {"sellerId": seller, "state": "oversold"})["items"]
    assert [i["sku"] for i in oversold] == [sku for sku, t in expected.items() if t["oversold"]]
    reorder = {i["sku"] for i in process.ok("/stock", {"sellerId": seller, "state": "reorder"})["items"]}
    assert reorder == {sku for sku, t in expected.items() if t["onReorderList"]}
    health = process.ok("/health")["flows"]["stock"]
    assert health["oversold"] == 1 and health["invalid"] == 1


def test_a_count_reaches_amazon_within_a_schedule_and_a_retry_applies_once(served):
    process, scenario = served
    seller = _seller(scenario)
    sku = next(s for s, t in scenario.expected["stock"].items() if t["sellerId"] == seller and t["role"] == "plenty")
    before = process.ok(f"/stock/{sku}", {"sellerId": seller})
    body = {"quantity": before["onHand"] + 40, "note": "cycle count aisle 4"}
    first = process.request("PUT", f"/stock/{sku}", params={"sellerId": seller}, json=body,
                            headers={"Idempotency-Key": "count-1"})
    assert first.status_code == 200, first.text
    again = process.request("PUT", f"/stock/{sku}", params={"sellerId": seller}, json=body,
                            headers={"Idempotency-Key": "count-1"})
    assert again.json() == first.json()
    counted = first.json()["stock"]
    assert counted["onHand"] == before["onHand"] + 40 and counted["available"] == before["available"] + 40
    assert first.json()["entries"][0]["kind"] == "count"
    assert until(lambda: _listing(process, seller, sku) == counted["available"], seconds=30)
    patches = process.amazon("calls", operation="patchListingsItem", sellerId=seller)["calls"]
    assert sum(1 for c in patches if c["path"].endswith(f"/{sku}")) >= 1

    adjusted = process.request("POST", f"/stock/{sku}/adjustments", params={"sellerId": seller},
                               json={"quantity": -3, "reason": "damaged", "note": "dropped"})
    assert adjusted.status_code == 200 and adjusted.json()["stock"]["onHand"] == counted["onHand"] - 3
    zero = process.request("POST", f"/stock/{sku}/adjustments", params={"sellerId": seller},
                           json={"quantity": 0, "reason": "other"})
    assert zero.status_code == 409 and zero.json()["error"] == "Conflict"
    wrong = process.request("POST", f"/stock/{sku}/adjustments", params={"sellerId": seller},
                            json={"quantity": 2, "reason": "because"})
    assert wrong.status_code == 400 and "reason" in wrong.json()["message"]
    future = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = process.request("PUT", f"/stock/{sku}", params={"sellerId": seller},
                            json={"quantity": 1, "countedAt": future})
    assert later.status_code == 409


def test_discontinuing_a_sku_shows_zero_on_amazon(served):
    process, scenario = served
    seller = _seller(scenario)
    sku = [s for s, t in scenario.expected["stock"].items() if t["sellerId"] == seller and t["role"] == "plenty"][-1]
    changed = process.request("PATCH", f"/stock/{sku}", params={"sellerId": seller},
                              json={"discontinued": True, "safetyBuffer": 1})
    assert changed.status_code == 200 and changed.json()["stock"]["state"] == "discontinued"
    assert until(lambda: _listing(process, seller, sku) == 0, seconds=30)
    assert sku in {i["sku"] for i in process.ok("/stock", {"sellerId": seller, "state": "discontinued"})["items"]}


def test_a_csv_with_a_bad_row_applies_nothing_and_a_big_one_goes_as_one_feed(served):
    process, scenario = served
    seller = _seller(scenario)
    bad = "sku,on_hand\nNEW-0001,4\nNEW-0002,-1\n"
    refused = process.request("POST", "/stock/import", params={"sellerId": seller}, data=bad,
                              headers={"Content-Type": "text/csv"})
    assert refused.status_code == 400 and refused.json()["details"]["rows"][0]["line"] == 3
    assert process.get("/stock/NEW-0001", {"sellerId": seller}).status_code == 404
    rows = "".join(f"NEW-{n:04d};{n % 9}\n" for n in range(1, 41))
    text = "Seller SKU;Quantity\n" + rows
    first = process.request("POST", "/stock/import", params={"sellerId": seller}, data=text,
                            headers={"Content-Type": "text/csv"})
    second = process.request("POST", "/stock/import", params={"sellerId": seller}, data=text,
                             headers={"Content-Type": "text/csv"})
    assert first.status_code == 200 and (first.json()["applied"], second.json()["alreadyApplied"]) == (40, 40)
    # 40 SKUs changed at once: one JSON_LISTINGS_FEED, not 40 patches; Amazon knows none of them.
    done = until(lambda: process.ok("/stock/NEW-0040", {"sellerId": seller})["state"] == "invalid", seconds=90)
    assert done, process.ok("/stock/NEW-0040", {"sellerId": seller})
    feeds = [f for f in process.amazon("feeds", sellerId=seller)["feeds"] if f["feedType"] == "JSON_LISTINGS_FEED"]
    assert len(feeds) == 1 and feeds[0]["invalid"] >= 40
    patched = process.amazon("calls", operation="patchListingsItem", sellerId=seller)["calls"]
    assert not [c for c in patched if "/NEW-" in c["path"]]


def test_a_shipment_consumes_what_its_order_reserved(served):
    process, scenario = served
    seller = _seller(scenario)
    unshipped = [o for o, t in scenario.expected["orders"].items()
                 if t["status"] == "UNSHIPPED" and t["fulfilledBy"] == "MERCHANT"]
    order_id = unshipped[-1]
    order = process.ok(f"/orders/{order_id}")
    sku = order["items"][0]["sku"]
    before = process.ok(f"/stock/{sku}", {"sellerId": seller})
    body = {"carrierCode": "DHL", "trackingNumber": "00340434169999999999",
            "shipDate": (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "items": [{"orderItemId": i["orderItemId"], "quantity": i["quantity"]} for i in order["items"]]}
    assert process.request("POST", f"/orders/{order_id}/shipments", json=body).status_code == 200
    units = sum(i["quantity"] for i in order["items"] if i["sku"] == sku)

    def consumed():
        now = process.ok(f"/stock/{sku}", {"sellerId": seller})
        return now if now["reserved"] == before["reserved"] - units else None

    after = until(consumed, seconds=60)
    assert after, process.ok(f"/stock/{sku}", {"sellerId": seller})
    assert after["onHand"] == before["onHand"] - units and after["available"] == before["available"]
    assert after["latestEntries"][0]["kind"] == "consumption"


def test_fba_quantities_arrive_and_the_reconciliation_corrects_drift(served):
    process, scenario = served
    seller = _seller(scenario)
    drifted = [f for f in scenario.expected["fba"] if f["sellerId"] == seller and f["notified"] != f["amazon"]]
    assert drifted, "the scenario moves one FBA SKU without a notification"
    fba = drifted[0]

    def corrected():
        found = process.get(f"/stock/{fba['sku']}", {"sellerId": seller})
        if found.status_code != 200:
            return None
        view = found.json()
        held = {f["marketplaceId"]: f for f in view["fba"]}.get(fba["marketplaceId"])
        return view if held and held["fulfillable"] == fba["amazon"] and view["fbaDrift"] >= 1 else None

    view = until(corrected, seconds=90)
    assert view, process.get(f"/stock/{fba['sku']}", {"sellerId": seller}).text
    assert view["managed"] is False and view["amazon"]["target"] is None  # FBA stock is Amazon's to list
    assert any(e["kind"] == "fba_drift" for e in view["latestEntries"])
