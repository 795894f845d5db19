"""Multi-Channel Fulfillment below the API: requested under the API handler's role (the recipient
sealed, never shown again), created at the Amazon simulator once under the task function's role,
followed through Amazon's steps, cancelled while Amazon allows."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.core.envelope import parse_notification
from chalicelib.core.errors import RetryLater
from chalicelib.core.function import running
from chalicelib.core.tasks import Outcome
from chalicelib.flows.fulfillment import rules, service
from chalicelib.flows.fulfillment.rules import FulfillmentRequest, Item, State
from infra.local.amazon import APPLY_THEN_DROP
from tests.integration.test_at_most_once import SELLER, TOKEN, UK

RECIPIENT = {"name": "Ada Lovelace", "addressLine1": "12 St James's Square", "city": "London",
             "postalCode": "SW1Y 4JH", "countryCode": "GB", "phone": "+44 20 7946 0000"}


@pytest.fixture
def amazon(amazon_for):
    from chalicelib.core import wiring

    wiring.state().put_seller(SELLER, [UK])
    return amazon_for({SELLER: TOKEN})


def request(order_id=None, quantity=2):
    return FulfillmentRequest(order_id or f"SHOP-{uuid.uuid4().hex[:10]}", SELLER, UK, "10025",
                              datetime.now(UTC) - timedelta(hours=1), "Thank you for your order", "Standard",
                              "FillOrKill", (Item("1", "KW-CUSHION-ERGO", quantity),), RECIPIENT)


def send(wanted):
    from chalicelib.flows.fulfillment import wiring

    with running("api_handler"):
        order, new = service.request_fulfillment(wiring.request_ports(), wanted, datetime.now(UTC))
        wiring.request_ports().tasks.discard()  # the test runs the tasks itself
    return order, new


def run(kind, order_id):
    from chalicelib.core.tasks import Task
    from chalicelib.flows.fulfillment import wiring

    with running("tasks"):
        result = {"create": service.create_order, "refresh": service.refresh_order,
                  "cancel": service.cancel_order}[kind](Task(kind, SELLER, order_id, {"marketplace_id": UK}),
                                                       wiring.task_ports(), datetime.now(UTC))
        wiring.task_ports().tasks.discard()
    return result


def stored(order_id, seller_id=SELLER):
    from chalicelib.flows.fulfillment import wiring

    return wiring.orders().get(seller_id, order_id)


def test_an_order_reaches_amazon_once_with_its_recipient_which_is_kept_sealed(aws_stack, amazon):
    wanted = request()
    order, new = send(wanted)
    assert new and order.state is State.REQUESTED
    assert send(wanted) == (order, False)  # the same request again: the same order
    with pytest.raises(rules.Refused):
        send(request(wanted.fulfillment_order_id, quantity=3))  # another request under its id
    amazon.inject_faults("createFulfillmentOrder", [APPLY_THEN_DROP])
    with pytest.raises(RetryLater):
        run("create", order.fulfillment_order_id)
    assert run("create", order.fulfillment_order_id).outcome is Outcome.CREATED  # asked Amazon first
    calls = [c for c in amazon.journal.records() if c.operation == "createFulfillmentOrder"
             and (c.body or {}).get("sellerFulfillmentOrderId") == order.fulfillment_order_id]
    assert len(calls) == 1 and calls[0].body["destinationAddress"] == RECIPIENT
    assert calls[0].body["items"] == [{"sellerSku": "KW-CUSHION-ERGO", "sellerFulfillmentOrderItemId": "1",
                                       "quantity": 2}]
    assert run("create", order.fulfillment_order_id).outcome is Outcome.SKIPPED
    # Nothing of the recipient in the record: it is in the buyer-data table, sealed.
    item = aws_stack.client("dynamodb").get_item(TableName=aws_stack.outputs["FulfillmentOrdersTableName"],
                                                 Key={"seller_id": {"S": SELLER},
                                                      "fulfillment_order_id": {"S": order.fulfillment_order_id}})
    assert "Lovelace" not in json.dumps(item) and "SW1Y" not in json.dumps(item)
    key = service.recipient_key(SELLER, order.fulfillment_order_id, order.fingerprint)
    sealed = aws_stack.client("dynamodb").get_item(TableName=aws_stack.outputs["BuyerDataTableName"],
                                                   Key={"order_id": {"S": key}})
    # Sealed until Amazon has it, then gone (the purge deletes it; here it was deleted at once).
    assert "Item" not in sealed


def test_amazon_s_steps_packages_tracking_and_returns_are_followed(amazon):
    order, _ = send(request())
    run("create", order.fulfillment_order_id)
    assert run("refresh", order.fulfillment_order_id).outcome is Outcome.UPDATED
    assert stored(order.fulfillment_order_id).amazon_status == "Received"
    assert stored(order.fulfillment_order_id).cancellable
    amazon.fulfillment.orders[(SELLER, order.fulfillment_order_id)].returns = [
        {"sellerFulfillmentOrderItemId": "1", "reasonCode": "DAMAGED"}]
    amazon.fulfillment.advance(timedelta(hours=1))  # Amazon's hours, warped: Complete
    run("refresh", order.fulfillment_order_id)
    done = stored(order.fulfillment_order_id)
    assert done.amazon_status == "Complete" and not done.cancellable
    (shipment,) = done.snapshot["shipments"]
    assert shipment["status"] == "SHIPPED" and shipment["packages"][0]["trackingNumber"].startswith("TRK")
    assert done.snapshot["returns"][0]["reasonCode"] == "DAMAGED"
    assert run("refresh", order.fulfillment_order_id).outcome is Outcome.DUPLICATE  # nothing new
    with pytest.raises(rules.Refused, match="no longer allows cancelling"):
        rules.check_cancel(done)


def test_a_cancellation_goes_once_while_amazon_allows(amazon):
    from chalicelib.flows.fulfillment import wiring

    order, _ = send(request())
    run("create", order.fulfillment_order_id)
    run("refresh", order.fulfillment_order_id)
    with running("api_handler"):
        asked = service.request_cancel(wiring.request_ports(), SELLER, order.fulfillment_order_id, datetime.now(UTC))
        again = service.request_cancel(wiring.request_ports(), SELLER, order.fulfillment_order_id, datetime.now(UTC))
        wiring.request_ports().tasks.discard()
    assert asked.cancel_requested_at is not None and again.cancel_requested_at == asked.cancel_requested_at
    assert run("cancel", order.fulfillment_order_id).outcome is Outcome.DONE
    run("refresh", order.fulfillment_order_id)
    assert stored(order.fulfillment_order_id).amazon_status == "Cancelled"
    assert run("cancel", order.fulfillment_order_id).outcome is Outcome.SKIPPED
    assert len([c for c in amazon.journal.records() if c.operation == "cancelFulfillmentOrder"
                and order.fulfillment_order_id in c.path]) == 1


def test_amazon_s_refusal_is_kept_and_not_sent_again(amazon):
    wanted = request()
    amazon.fulfillment.orders.clear()
    order, _ = send(wanted)
    # Someone made an order under this id at Amazon already (Seller Central): Amazon refuses.
    from chalicelib.flows.fulfillment.service import _body, _sealed

    amazon.fulfillment._create(type("Caller", (), {"seller_id": SELLER, "may_see": lambda self, s: True})(),
                               {"body": _body(order, _sealed(wanted))})
    assert run("create", order.fulfillment_order_id).outcome is Outcome.ATTENTION
    refused = stored(order.fulfillment_order_id)
    assert refused.state is State.REFUSED and "already exists" in refused.amazon_answer
    assert run("create", order.fulfillment_order_id).outcome is Outcome.SKIPPED


def test_amazon_s_example_notification_follows_an_order_made_elsewhere(amazon):
    from chalicelib.flows.fulfillment import wiring

    example = json.loads(EXAMPLE)
    example["Payload"]["FulfillmentOrderStatusNotification"]["SellerFulfillmentOrderId"] = f"SC-{uuid.uuid4().hex[:8]}"
    notification = parse_notification(json.dumps(example))
    with running("intake"):
        result = service.record_status(notification, wiring.intake_ports(), datetime.now(UTC))
        queued = [task for task, _ in wiring.intake_ports().tasks._pending]  # noqa: SLF001
        wiring.intake_ports().tasks.discard()
    assert result.outcome is Outcome.UPDATED
    followed = stored(example["Payload"]["FulfillmentOrderStatusNotification"]["SellerFulfillmentOrderId"],
                      "A3TH9S8BH6GOGM")
    assert followed.state is State.CREATED and followed.fingerprint is None and followed.seller_id == "A3TH9S8BH6GOGM"
    assert [t.kind for t in queued] == [service.REFRESH]


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "spapi" / "notifications"
EXAMPLE = json.dumps(json.loads((FIXTURES / "FulfillmentOrderStatusNotification.json").read_text())["examples"][0])


def test_two_sellers_may_use_the_same_id(amazon_for):
    from chalicelib.core import wiring

    other = "A1OTHERSELLER9"
    wiring.state().put_seller(SELLER, [UK])
    wiring.state().put_seller(other, [UK])
    amazon = amazon_for({SELLER: TOKEN, other: "Atzr|other-seller"})
    shared = f"SHOP-{uuid.uuid4().hex[:8]}"
    mine, _ = send(request(shared))
    theirs, new = send(replace(request(shared), seller_id=other))
    assert new and (mine.seller_id, theirs.seller_id) == (SELLER, other)
    run("create", shared)
    from chalicelib.core.tasks import Task
    from chalicelib.flows.fulfillment import wiring as flow

    with running("tasks"):
        result = service.create_order(Task("create", other, shared, {"marketplace_id": UK}), flow.task_ports(),
                                      datetime.now(UTC))
        flow.task_ports().tasks.discard()
    assert result.outcome is Outcome.CREATED
    assert {(s, i) for s, i in amazon.fulfillment.orders if i == shared} == {(SELLER, shared), (other, shared)}


def test_the_sweep_queues_again_a_creation_and_a_cancellation_whose_task_was_lost(amazon):
    from chalicelib.core import wiring as core
    from chalicelib.flows.fulfillment import wiring

    order, _ = send(request())  # its create task discarded: lost
    later = datetime.now(UTC) + service.SWEEP_AFTER
    with running("sweep_fulfillment"):
        swept = service.sweep_pending(wiring.orders(), core.state(), core.task_queue(), later)
        queued = [t for t, _ in core.task_queue()._pending]  # noqa: SLF001
        core.task_queue().discard()
    assert swept["queued"] >= 1
    assert (service.CREATE, order.fulfillment_order_id) in {(t.kind, t.key) for t in queued}
    run("create", order.fulfillment_order_id)
    run("refresh", order.fulfillment_order_id)
    with running("api_handler"):
        service.request_cancel(wiring.request_ports(), SELLER, order.fulfillment_order_id, datetime.now(UTC))
        wiring.request_ports().tasks.discard()  # lost too
    with running("sweep_fulfillment"):
        service.sweep_pending(wiring.orders(), core.state(), core.task_queue(), later + service.SWEEP_AFTER)
        queued = [t for t, _ in core.task_queue()._pending]  # noqa: SLF001
        core.task_queue().discard()
    assert (service.CANCEL, order.fulfillment_order_id) in {(t.kind, t.key) for t in queued}
    assert (service.CREATE, order.fulfillment_order_id) not in {(t.kind, t.key) for t in queued}
