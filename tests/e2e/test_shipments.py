"""End to end through the HTTP API, as a warehouse system would: `replay --serve` with a world of
orders; the warehouse records shipments (POST /orders/{orderId}/shipments); each reaches the
Amazon simulator's confirmShipment exactly once with the right items, carrier and tracking;
Amazon's ORDER_CHANGE brings the order to SHIPPED; retried requests change nothing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import served_in_the_past, until

pytestmark = pytest.mark.e2e

TOKEN = "e2e-shipments-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_in_the_past(tmp_path_factory.mktemp("shipments"), TOKEN, days=20, seed=11, orders=60) as both:
        yield both


def _orders(scenario, status, fulfilled_by):
    return [order_id for order_id, truth in scenario.expected["orders"].items()
            if truth["status"] == status and truth["fulfilledBy"] == fulfilled_by]


def _body(order, *, tracking="00340434161234567890", quantity=None):
    return {"carrierCode": "DHL", "trackingNumber": tracking, "shippingMethod": "Standard",
            "shipDate": (datetime.now(UTC) - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "items": [{"orderItemId": item["orderItemId"], "quantity": quantity or item["quantity"]}
                      for item in order["items"]]}


def test_a_recorded_shipment_reaches_amazon_once_and_the_order_ships(served):
    process, scenario = served
    unshipped = _orders(scenario, "UNSHIPPED", "MERCHANT")
    assert unshipped, "the scenario has unshipped merchant orders"
    order_id = unshipped[0]
    order = process.ok(f"/orders/{order_id}")
    body = _body(order)

    first = process.request("POST", f"/orders/{order_id}/shipments", json=body, headers={"Idempotency-Key": "wms-1"})
    assert first.status_code == 200, first.text
    shipment = first.json()
    assert shipment["shipmentId"] == f"{order_id}.1" and shipment["confirmation"]["state"] in ("pending", "confirmed")
    # The same request again (a retry): the same shipment, not a second one.
    again = process.request("POST", f"/orders/{order_id}/shipments", json=body, headers={"Idempotency-Key": "wms-1"})
    assert again.status_code == 200 and again.json()["shipmentId"] == shipment["shipmentId"]
    other = process.request("POST", f"/orders/{order_id}/shipments", json=_body(order, tracking="X1"),
                            headers={"Idempotency-Key": "wms-1"})
    assert other.status_code == 409 and other.json()["error"] == "Conflict"
    # Without a key, a second package for the same units is more than is left.
    over = process.request("POST", f"/orders/{order_id}/shipments", json=_body(order, tracking="X2"))
    assert over.status_code == 409 and "left to ship" in over.json()["message"], over.text

    confirmed = until(lambda: process.ok(f"/shipments/{order_id}.1")["confirmation"]["state"] == "confirmed")
    assert confirmed, process.ok(f"/shipments/{order_id}.1")
    packages = process.amazon("packages", orderId=order_id)["packages"]
    assert len(packages) == 1
    detail = packages[0]["packageDetail"]
    assert (detail["packageReferenceId"], detail["carrierCode"], detail["trackingNumber"]) == (
        "1", "DHL", "00340434161234567890")
    assert detail["orderItems"] == [{"orderItemId": i["orderItemId"], "quantity": i["quantity"]}
                                    for i in order["items"]]
    assert len([c for c in process.amazon("calls", operation="confirmShipment")["calls"]
                if order_id in c["path"]]) == 1
    # Amazon's ORDER_CHANGE came back through the intake: the order has shipped.
    assert until(lambda: process.ok(f"/orders/{order_id}")["status"] == "SHIPPED"), process.ok(f"/orders/{order_id}")
    shown = process.ok(f"/orders/{order_id}")["shipments"]
    assert [(s["shipmentId"], s["trackingNumber"], s["confirmation"]["state"]) for s in shown] == [
        (f"{order_id}.1", "00340434161234567890", "confirmed")]
    listed = process.ok(f"/orders/{order_id}/shipments")
    assert all(item["unshipped"] == 0 and item["shipped"] == item["ordered"] for item in listed["items"])
    assert [s["shipmentId"] for s in listed["shipments"]] == [f"{order_id}.1"]


def test_what_cannot_be_shipped_is_refused_with_the_reason_and_nothing_recorded(served):
    process, scenario = served
    missing = process.request("POST", "/orders/999-0000000-0000000/shipments",
                              json={"carrierCode": "DHL", "trackingNumber": "1", "shipDate": "2026-01-01T00:00:00Z",
                                    "items": [{"sku": "X", "quantity": 1}]})
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    fba = _orders(scenario, "SHIPPED", "AMAZON") + _orders(scenario, "UNSHIPPED", "AMAZON")
    assert fba, "the scenario has FBA orders"
    order = process.ok(f"/orders/{fba[0]}")
    refused = process.request("POST", f"/orders/{fba[0]}/shipments", json=_body(order))
    assert refused.status_code == 409 and "fulfilled by Amazon" in refused.json()["message"], refused.text
    unshipped = _orders(scenario, "UNSHIPPED", "MERCHANT")[1]
    order = process.ok(f"/orders/{unshipped}")
    future = {**_body(order), "shipDate": (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    late = process.request("POST", f"/orders/{unshipped}/shipments", json=future)
    assert late.status_code == 409 and "in the future" in late.json()["message"]
    both = {**_body(order), "items": [{"orderItemId": "1", "sku": "X", "quantity": 1}]}
    assert process.request("POST", f"/orders/{unshipped}/shipments", json=both).status_code == 400
    assert process.ok(f"/orders/{unshipped}/shipments")["shipments"] == []
    assert process.get(f"/shipments/{unshipped}.1").status_code == 404


def test_the_demo_ships_its_merchant_orders_through_the_api_and_amazon_gets_each_once(tmp_path):
    """`make demo`'s story, smaller: the warehouse ships the unshipped merchant orders through the
    API (one keyed wrong and refused), each confirmation reaches Amazon once, the orders ship."""
    import re
    import socket
    import subprocess
    import sys

    from tests.e2e.harness import REPO_ROOT, child_env

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "infra.local", "demo", "--no-serve", "--orders", "60",
                           "--rate-scale", "50", "--port", str(port)],
                          cwd=tmp_path, env={**child_env(TOKEN), "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = re.search(r"the warehouse recorded (\d+) shipments through the API for (\d+) unshipped merchant orders "
                     r"\((\d+) in two parcels, (\d+) after its ship-by date\); Amazon received (\d+) confirmations, "
                     r"(\d+) twice; (\d+) of those orders are SHIPPED now", done.stdout)
    assert line, done.stdout[-3000:]
    recorded, orders, split, _, confirmed, twice, shipped = (int(g) for g in line.groups())
    assert orders > 0 and recorded == orders + split == confirmed and twice == 0 and shipped == orders
    assert "refused by the API, nothing recorded" in done.stdout and "left to ship" in done.stdout
    assert "POST /orders" not in done.stdout + done.stderr  # the access log stays out of the story


def test_a_seller_s_shipments_are_listed_by_state_and_time(served):
    process, scenario = served
    seller = next(iter(scenario.expected["orders"].values()))["sellerId"]
    # A shipment of its own, whichever tests ran before in this process: the rest of a partly
    # shipped order (the other tests leave those alone).
    mine = _orders(scenario, "PARTIALLY_SHIPPED", "MERCHANT")[0]
    order = process.ok(f"/orders/{mine}")
    left = [dict(i, quantity=i["quantity"] - i.get("quantityShipped", 0)) for i in order["items"]
            if i["quantity"] > i.get("quantityShipped", 0)]
    answer = process.request("POST", f"/orders/{mine}/shipments", json=_body(dict(order, items=left)),
                             headers={"Idempotency-Key": f"listed-{mine}"})
    assert answer.status_code == 200, answer.text
    confirmed = until(lambda: process.ok("/shipments", {"sellerId": seller, "status": "confirmed"})["shipments"])
    assert confirmed, process.ok(f"/orders/{mine}/shipments")
    assert confirmed and all(s["confirmation"]["state"] == "confirmed" and s["sellerId"] == seller for s in confirmed)
    assert process.ok("/shipments", {"sellerId": seller, "status": "rejected"})["shipments"] == []
    later = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert process.ok("/shipments", {"sellerId": seller, "since": later})["shipments"] == []
    # One page at a time, to the end.
    seen, token = [], None
    for _ in range(20):
        page = process.ok("/shipments", {"sellerId": seller, "limit": 1, **({"nextToken": token} if token else {})})
        seen += [s["shipmentId"] for s in page["shipments"]]
        token = page["nextToken"]
        if not token:
            break
    assert sorted(seen) == sorted(s["shipmentId"] for s in process.ok("/shipments", {"sellerId": seller})["shipments"])
    assert process.get("/shipments", {"sellerId": "A0000000000000"}).status_code == 404
    assert process.get("/shipments", {"sellerId": seller, "status": "shipped"}).status_code == 400
    assert process.get("/shipments").status_code == 400


def test_a_warehouse_file_is_applied_once_and_a_file_with_a_problem_applies_nothing(served):
    process, scenario = served
    unshipped = _orders(scenario, "UNSHIPPED", "MERCHANT")[2:5]
    assert len(unshipped) == 3, "the scenario has enough unshipped merchant orders"
    rows = ["Order ID;Order Item ID;Quantity;Carrier Code;Tracking Number;Ship Date"]
    stamp = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for n, order_id in enumerate(unshipped):
        for item in process.ok(f"/orders/{order_id}")["items"]:
            rows.append(f"{order_id};{item['orderItemId']};{item['quantity']};UPS;1Z{n:06d};{stamp}")
    good = "\n".join(rows) + "\n"
    first_item = process.ok(f"/orders/{unshipped[0]}")["items"][0]["orderItemId"]
    wrong = good + f"{unshipped[0]};{first_item};1;UPS;1Z9;{stamp}\n"

    def post(text):
        return process.request("POST", "/shipments/import", data=text.encode(),
                               headers={"Content-Type": "text/csv"})

    refused = post(wrong)  # the last row is one unit more than the order has
    assert refused.status_code == 409, refused.text
    assert refused.json()["details"]["rows"][0]["line"] == len(rows) + 1 and "left to ship" in refused.text
    assert all(process.ok(f"/orders/{o}/shipments")["shipments"] == [] for o in unshipped)  # nothing applied
    malformed = post(good.replace("UPS", "", 1).replace(stamp, "soon", 1))
    assert malformed.status_code == 400 and {r["column"] for r in malformed.json()["details"]["rows"]} >= {
        "carrier_code", "ship_date"}

    first = post(good)
    assert first.status_code == 200, first.text
    assert (first.json()["applied"], first.json()["alreadyRecorded"]) == (3, 0)
    again = post(good)  # the same file again changes nothing
    assert (again.json()["applied"], again.json()["alreadyRecorded"]) == (0, 3)
    assert sorted(again.json()["shipments"]) == sorted(first.json()["shipments"])
    for order_id in unshipped:
        assert until(lambda o=order_id: process.ok(f"/orders/{o}")["status"] == "SHIPPED")
        assert len(process.amazon("packages", orderId=order_id)["packages"]) == 1
    assert process.request("POST", "/shipments/import", json={"rows": []}).status_code == 415


def test_orders_due_to_ship_are_listed_counted_and_alerted_once(served):
    """The scenario's orders were placed weeks ago: its unshipped merchant orders are all late."""
    process, scenario = served
    seller = next(iter(scenario.expected["orders"].values()))["sellerId"]
    unshipped = {*_orders(scenario, "UNSHIPPED", "MERCHANT"), *_orders(scenario, "PARTIALLY_SHIPPED", "MERCHANT")}
    # Each is listed at most once, the most urgent first; the other tests ship some meanwhile.
    listed, token = [], None
    for _ in range(50):
        page = process.ok("/shipments/due", {"sellerId": seller, "within": "PT24H", "limit": 7,
                                             **({"nextToken": token} if token else {})})
        listed += page["orders"]
        token = page["nextToken"]
        if not token:
            break
    assert page["within"] == "PT24H"
    ids = [o["orderId"] for o in listed]
    assert len(ids) == len(set(ids)) and set(ids) <= unshipped and len(ids) >= len(unshipped) - 6
    dates = [o["latestShipDate"] for o in listed]
    assert dates == sorted(dates) and all(o["late"] and o["shipBy"].endswith(" ago") for o in listed)
    assert all(i["unshipped"] == i["ordered"] - i["shipped"] for o in listed for i in o["items"])
    # Counted in /health, and the schedule alerts each once: its later runs find nothing new.
    health = process.ok("/health")
    assert health["flows"]["shipments"]["late"] >= len(ids) - 6
    run = until(lambda: process.ok("/health")["schedules"].get("alert_ship_by"))
    assert run["late"] >= 1
    first_at = run["at"]
    later = until(lambda: (r := process.ok("/health")["schedules"]["alert_ship_by"])["at"] > first_at and r)
    assert later["alerted"] == 0
    alerted = process.ok("/shipments/due", {"sellerId": seller, "within": "PT0S"})["orders"]
    assert alerted and all(o["alerted"] == ["late"] for o in alerted)
    assert process.get("/shipments/due", {"sellerId": seller, "within": "P1M"}).status_code == 400
    assert process.get("/shipments/due", {"sellerId": seller, "within": "P31D"}).status_code == 409
    assert process.get("/shipments/due").status_code == 400
