"""Multi-Channel Fulfillment end to end through the HTTP API, as a web shop would: `replay
--serve` with the scenario's world; the shop sends its orders (POST /fulfillment-orders), each
reaches the Amazon simulator's createFulfillmentOrder once; Amazon's FULFILLMENT_ORDER_STATUS
notifications bring status, packages and tracking back; a cancellation goes while Amazon allows;
an order made in Seller Central is followed from its notification, with its return."""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.harness import served_in_the_past, until

pytestmark = pytest.mark.e2e

TOKEN = "e2e-fulfillment-token"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_in_the_past(tmp_path_factory.mktemp("fulfillment"), TOKEN, days=5, seed=12, orders=12) as both:
        yield both


def test_a_shop_order_reaches_amazon_once_and_comes_back_shipped_with_tracking(served):
    process, scenario = served
    order = scenario.expected["shop_orders"][0]
    first = process.request("POST", "/fulfillment-orders", json=order, headers={"Idempotency-Key": "shop-1"})
    assert first.status_code == 201, first.text
    view = first.json()
    assert view["state"] == "requested" and view["origin"] == "sellerops"
    assert "destinationAddress" not in view and order["destinationAddress"]["name"] not in first.text
    again = process.request("POST", "/fulfillment-orders", json=order)
    assert again.status_code == 200 and again.json()["sellerFulfillmentOrderId"] == order["sellerFulfillmentOrderId"]
    other = copy.deepcopy(order)
    other["items"][0]["quantity"] += 1
    conflict = process.request("POST", "/fulfillment-orders", json=other)
    assert conflict.status_code == 409 and "other details" in conflict.json()["message"]
    path = f"/fulfillment-orders/{order['sellerFulfillmentOrderId']}"
    shipped = until(lambda: (o := process.ok(path))["amazonStatus"] == "Complete" and o)
    assert shipped, process.ok(path)
    (shipment,) = shipped["shipments"]
    assert shipment["status"] == "SHIPPED" and shipment["packages"][0]["trackingNumber"]
    assert [(i["sku"], i["quantity"]) for i in shipped["items"]] == [
        (i["sellerSku"], i["quantity"]) for i in order["items"]]
    at_amazon = [o for o in process.amazon("fulfillment-orders")["fulfillmentOrders"]
                 if o["sellerFulfillmentOrderId"] == order["sellerFulfillmentOrderId"]]
    assert len(at_amazon) == 1 and at_amazon[0]["status"] == "Complete"
    calls = process.amazon("calls", operation="createFulfillmentOrder")["calls"]
    assert sum(1 for c in calls if (c.get("body") or {}).get("sellerFulfillmentOrderId")
               == order["sellerFulfillmentOrderId"]) == 1
    refused = process.request("DELETE", path)
    assert refused.status_code == 409 and "no longer allows cancelling" in refused.json()["message"]


def test_an_order_is_cancelled_while_amazon_allows(served):
    process, scenario = served
    order = scenario.expected["shop_orders"][-1]
    assert process.request("POST", "/fulfillment-orders", json=order).status_code == 201
    path = f"/fulfillment-orders/{order['sellerFulfillmentOrderId']}"
    assert until(lambda: process.ok(path)["cancellable"], 20)
    cancelled = process.request("DELETE", path)
    assert cancelled.status_code == 200 and cancelled.json()["cancelRequestedAt"]
    assert process.request("DELETE", path).status_code == 200  # asking again changes nothing
    assert until(lambda: process.ok(path)["amazonStatus"] == "Cancelled", 30), process.ok(path)
    calls = process.amazon("calls", operation="cancelFulfillmentOrder")["calls"]
    assert sum(1 for c in calls if order["sellerFulfillmentOrderId"] in c["path"]) == 1


def test_an_order_made_in_seller_central_is_followed_with_its_return(served):
    process, scenario = served
    (seed,) = scenario.expected["fulfillment_seeds"]
    followed = until(lambda: (r := process.get(f"/fulfillment-orders/{seed}")).status_code == 200
                      and r.json()["returns"] and r.json(), 30)
    assert followed and followed["origin"] == "amazon" and followed["amazonStatus"] == "Complete"
    assert followed["returns"][0]["reasonCode"] == "DAMAGED_BY_CARRIER"


def test_bad_requests_get_a_clear_error(served):
    process, scenario = served
    order = copy.deepcopy(scenario.expected["shop_orders"][1])
    unknown = dict(order, sellerId="A0000000000000", sellerFulfillmentOrderId="SHOP-X-1")
    assert process.request("POST", "/fulfillment-orders", json=unknown).status_code == 404
    no_address = {k: v for k, v in order.items() if k != "destinationAddress"}
    answer = process.request("POST", "/fulfillment-orders", json=no_address)
    assert answer.status_code == 400 and "destinationAddress" in answer.json()["message"]
    future = dict(order, sellerFulfillmentOrderId="SHOP-X-2",
                  displayableOrderDate=(datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert process.request("POST", "/fulfillment-orders", json=future).status_code == 409
    assert process.get("/fulfillment-orders/NOPE-404").status_code == 404
    assert process.get("/fulfillment-orders/bad id!").status_code in (400, 404)
    assert process.request("DELETE", "/fulfillment-orders/NOPE-404").status_code == 404
