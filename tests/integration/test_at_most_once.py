"""A call to Amazon that is not idempotent (confirmShipment) is made at most once, end to end:
python-amazon-sp-api against the simulator, Amazon's errors translated by the SP-API base, the
call ledger in the state table on moto. The simulator applies the call and then drops the
connection, as a timeout looks to us; the next attempt finds the package at Amazon (getOrder
with PACKAGES) and does not confirm it again."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from sp_api.api import OrdersV0, OrdersV20260101

from chalicelib.core.errors import RetryLater
from chalicelib.core.once import Call, call_once
from infra.local.amazon import APPLY_THEN_DROP
from infra.local.amazon.orders import unshipped_example

SELLER, TOKEN = "A2EUQ1WTGCTBG2", "Atzr|at-most-once"
UK = "A1F83G8C2ARO7P"


unshipped_order = unshipped_example  # the model's example order, unshipped


@pytest.fixture
def amazon(amazon_for):
    return amazon_for({SELLER: TOKEN})


def confirm(order: dict[str, Any], reference: str):
    """confirmShipment through the ledger, as a flow's Amazon adapter makes it."""
    from chalicelib.core import wiring

    spapi, ledger = wiring.spapi(), wiring.state()
    item = order["orderItems"][0]
    body = {"marketplaceId": UK, "packageDetail": {
        "packageReferenceId": reference, "carrierCode": "Royal Mail", "trackingNumber": f"RM{reference}GB",
        "shipDate": "2024-12-26T10:00:00Z",
        "orderItems": [{"orderItemId": item["orderItemId"], "quantity": item["quantityOrdered"]}]}}
    call = Call(SELLER, "confirmShipment", f"{order['orderId']}#{reference}", body)

    def send():
        client = spapi.client(OrdersV0, SELLER, UK)
        spapi.call("confirmShipment", SELLER, lambda: client.confirm_shipment(order["orderId"], **body))
        return {"packageReferenceId": reference, "confirmed": "answered"}

    def reconcile():
        client = spapi.client(OrdersV20260101, SELLER, UK)
        found = spapi.call("getOrder", SELLER, lambda: client.get_order(order["orderId"], includedData=["PACKAGES"]))
        packages = (found.payload.get("order") or {}).get("packages") or []
        if any(str(p.get("packageReferenceId")) == reference for p in packages):
            return {"packageReferenceId": reference, "confirmed": "found at Amazon"}
        return None

    return call_once(ledger, call, send, reconcile)


def test_a_confirmation_applied_then_timed_out_reaches_amazon_once(amazon):
    order = unshipped_order(f"026-{uuid.uuid4().int % 10**7:07d}-0000001")
    amazon.upsert_order(SELLER, order)
    amazon.inject_faults("confirmShipment", [APPLY_THEN_DROP])

    with pytest.raises(RetryLater, match="network error"):
        confirm(order, "1")
    again = confirm(order, "1")
    third = confirm(order, "1")

    assert again == third == {"packageReferenceId": "1", "confirmed": "found at Amazon"}
    confirmations = [c for c in amazon.calls("confirmShipment") if order["orderId"] in c["path"]]
    assert len(confirmations) == 1, confirmations
    packages = [p for p in amazon.orders.confirmations if p["orderId"] == order["orderId"]]
    assert len(packages) == 1


def test_a_confirmation_that_never_reached_amazon_is_sent_on_the_next_attempt(amazon):
    order = unshipped_order(f"026-{uuid.uuid4().int % 10**7:07d}-0000002")
    amazon.upsert_order(SELLER, order)
    amazon.inject_faults("confirmShipment", [503])

    with pytest.raises(RetryLater, match="Amazon failed confirmShipment"):
        confirm(order, "1")
    assert confirm(order, "1") == {"packageReferenceId": "1", "confirmed": "answered"}

    assert [c["status"] for c in amazon.calls("confirmShipment") if order["orderId"] in c["path"]] == [503, 204]
    assert len([p for p in amazon.orders.confirmations if p["orderId"] == order["orderId"]]) == 1
