"""Shipments end to end below the API: recorded on moto under the API handler's role, confirmed
to the Amazon simulator under the task function's role, exactly once, with Amazon's refusals kept
and explained."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.errors import RetryLater
from chalicelib.core.function import running
from chalicelib.core.tasks import Outcome
from chalicelib.flows.orders.rules import OrderChange, OrderLine, OrderStatus
from chalicelib.flows.shipments import rules, service
from chalicelib.flows.shipments.rules import ShipmentRequest, ShipmentState
from infra.local.amazon import APPLY_THEN_DROP
from tests.integration.test_at_most_once import SELLER, TOKEN, UK, unshipped_order


@pytest.fixture
def amazon(amazon_for):
    return amazon_for({SELLER: TOKEN})


@pytest.fixture
def order(amazon):
    """An unshipped merchant order, at Amazon and as the orders flow recorded it."""
    from chalicelib.flows.orders import wiring as orders

    raw = unshipped_order(f"026-{uuid.uuid4().int % 10**7:07d}-{uuid.uuid4().int % 10**7:07d}")
    amazon.upsert_order(SELLER, raw)
    now = datetime.now(UTC)
    lines = tuple(OrderLine(str(i["orderItemId"]), (i.get("product") or {}).get("sellerSku"),
                            int(i["quantityOrdered"])) for i in raw["orderItems"])
    change = OrderChange(SELLER, raw["orderId"], UK, OrderStatus.UNSHIPPED, now - timedelta(hours=2),
                         str(uuid.uuid4()), fulfillment_channel="MFN", purchase_date=now - timedelta(hours=3),
                         lines=lines)
    orders.orders().apply_change(change, now)
    return raw


def record(order, quantity=None):
    from chalicelib.flows.shipments import wiring

    item = order["orderItems"][0]
    request = ShipmentRequest("Royal Mail", "RM123456785GB", datetime.now(UTC) - timedelta(minutes=5),
                              ((str(item["orderItemId"]), None, quantity or int(item["quantityOrdered"])),))
    with running("api_handler"):
        shipment = service.record_shipment(wiring.record_ports(), order["orderId"], request, datetime.now(UTC))
        wiring.record_ports().tasks.discard()  # the test runs the task itself
    return shipment


def confirm(shipment):
    from chalicelib.flows.shipments import wiring

    with running("tasks"):
        return service.confirm_shipment(service.confirm_task(shipment), wiring.task_ports(), datetime.now(UTC))


def stored(shipment):
    from chalicelib.flows.shipments import wiring

    return wiring.shipments().get(shipment.order_id).get(shipment.number)


def test_a_confirmation_applied_by_amazon_then_timed_out_is_confirmed_once(amazon, order):
    shipment = record(order)
    amazon.inject_faults("confirmShipment", [APPLY_THEN_DROP])
    with pytest.raises(RetryLater):
        confirm(shipment)
    assert stored(shipment).state is ShipmentState.PENDING
    assert confirm(shipment).outcome is Outcome.DONE
    assert confirm(shipment).outcome is Outcome.SKIPPED
    sent = [c for c in amazon.orders.confirmations if c["orderId"] == order["orderId"]]
    assert len(sent) == 1
    detail = sent[0]["packageDetail"]
    item = order["orderItems"][0]
    assert detail["packageReferenceId"] == "1" and detail["carrierCode"] == "Royal Mail"
    assert detail["trackingNumber"] == "RM123456785GB"
    assert detail["orderItems"] == [{"orderItemId": str(item["orderItemId"]), "quantity": int(item["quantityOrdered"])}]
    assert stored(shipment).state is ShipmentState.CONFIRMED


def test_a_refusal_by_amazon_is_kept_explained_and_never_sent_again(amazon, order):
    from chalicelib.flows.shipments import wiring

    def refused() -> int:
        with running("api_handler"):  # what /health counts
            return wiring.shipments().counts(SELLER)["refused"]

    before = refused()
    shipment = record(order)
    amazon.orders.orders[order["orderId"]].order["fulfillment"]["fulfillmentStatus"] = "CANCELLED"  # meanwhile
    result = confirm(shipment)
    assert result.outcome is Outcome.ATTENTION
    kept = stored(shipment)
    assert kept.state is ShipmentState.REJECTED
    assert "CANCELLED" in kept.amazon_answer and "cancelled meanwhile" in kept.explanation
    assert confirm(shipment).outcome is Outcome.SKIPPED
    assert len([c for c in amazon.calls("confirmShipment") if order["orderId"] in c["path"]]) == 1
    assert refused() == before + 1
    # Its units are free again: the corrected shipment can be recorded.
    assert record(order).number == 2
    assert refused() == before  # a shipment recorded since: no longer waiting for a person


def test_more_than_is_left_is_refused_before_anything_is_recorded(amazon, order):
    first = record(order)
    with pytest.raises(rules.Refused, match="left to ship"):
        record(order, quantity=1)
    from chalicelib.flows.shipments import wiring

    assert [s.number for s in wiring.shipments().get(order["orderId"]).shipments] == [first.number]


def test_the_sweep_queues_a_pending_confirmation_whose_task_was_lost(amazon, order):
    from chalicelib.core import wiring as core
    from chalicelib.flows.shipments import wiring
    from tests.fakes import FakeTasks

    core.state().put_seller(SELLER, [UK])
    shipment = record(order)

    def swept(at):
        tasks = FakeTasks()
        with running("sweep_shipments"):
            service.sweep_pending(wiring.shipments(), core.state(), tasks, at)
        return [task.key for task, _ in tasks.sent]

    assert shipment.shipment_id not in swept(datetime.now(UTC))  # its own task is still on its way
    assert shipment.shipment_id in swept(datetime.now(UTC) + service.SWEEP_AFTER)
    assert confirm(shipment).outcome is Outcome.DONE
    assert shipment.shipment_id not in swept(datetime.now(UTC) + service.SWEEP_AFTER)
