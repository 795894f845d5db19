"""Ship-by alerts on moto: the orders table's sparse by_ship_by index follows what Amazon waits
for, and the alert_ship_by schedule publishes each order's alert once per threshold, under its
own IAM role, to the stack's alerts topic."""
from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.alerts import AlertNotSent
from chalicelib.core.function import running
from chalicelib.flows.orders.rules import OrderChange, OrderStatus
from chalicelib.flows.shipments import service
from chalicelib.flows.shipments.service import AlertPorts

UK = "A1F83G8C2ARO7P"
WINDOW = timedelta(hours=12)


@pytest.fixture
def seller(aws_stack):
    """A seller of its own (the moto stack is shared by the session's tests)."""
    from chalicelib.core import wiring

    seller_id = "A" + "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12))
    wiring.state().put_seller(seller_id, [UK])
    return seller_id


def _order_id() -> str:
    return f"171-{uuid.uuid4().int % 10**7:07d}-{uuid.uuid4().int % 10**7:07d}"


def change(seller, order_id, status, latest, *, channel="MFN", at=None):
    at = at or datetime.now(UTC)
    return OrderChange(seller, order_id, UK, status, at, str(uuid.uuid4()), fulfillment_channel=channel,
                       purchase_date=at - timedelta(days=1), ship_by=(latest - timedelta(days=1), latest))


def apply(*changes):
    from chalicelib.flows.orders import wiring as orders

    with running("intake"):
        for c in changes:
            orders.orders().apply_change(c, datetime.now(UTC))


def due(seller, before):
    from chalicelib.flows.shipments import wiring

    with running("api_handler"):
        found, _ = wiring.due_index().due(seller, before, 100, None)
    return [d.order_id for d in found]


class Recorded:
    def __init__(self, refuse: bool = False):
        self.sent: list[tuple[str, str]] = []
        self.refuse = refuse

    def publish(self, subject, message):
        if self.refuse:
            raise AlertNotSent("refused")
        self.sent.append((subject, message))


class Only:
    """The sellers port, narrowed to the test's seller (the stack is shared)."""

    def __init__(self, seller_id):
        self.seller_id = seller_id

    def sellers(self):
        from chalicelib.core import wiring

        return [s for s in wiring.state().sellers() if s["seller_id"] == self.seller_id]


def run(seller, publisher, now=None):
    from chalicelib.flows.shipments import wiring as shipments

    ports = AlertPorts(due=shipments.due_index(), sellers=Only(seller), publisher=publisher)
    with running("alert_ship_by"):
        return service.alert_ship_by(ports, now or datetime.now(UTC), WINDOW)


def test_the_index_holds_merchant_orders_amazon_waits_for_by_latest_ship_date(seller):
    now = datetime.now(UTC)
    late, soon, later, fba, shipped = (_order_id() for _ in range(5))
    apply(change(seller, late, OrderStatus.UNSHIPPED, now - timedelta(hours=1)),
          change(seller, soon, OrderStatus.PARTIALLY_SHIPPED, now + timedelta(hours=3)),
          change(seller, later, OrderStatus.UNSHIPPED, now + timedelta(days=3)),
          change(seller, fba, OrderStatus.UNSHIPPED, now + timedelta(hours=1), channel="AFN"),
          change(seller, shipped, OrderStatus.UNSHIPPED, now + timedelta(hours=2), at=now - timedelta(minutes=5)),
          change(seller, shipped, OrderStatus.SHIPPED, now + timedelta(hours=2)))
    assert due(seller, now + WINDOW) == [late, soon]  # the most urgent first
    assert due(seller, now) == [late]
    from chalicelib.flows.shipments import wiring

    with running("api_handler"):
        assert service.due_counts(wiring.due_index(), [seller], now, WINDOW) == {"due": 2, "late": 1}


def test_a_change_that_does_not_name_the_channel_keeps_the_stored_one(seller):
    now = datetime.now(UTC)
    mfn, afn = _order_id(), _order_id()
    latest = now + timedelta(hours=2)
    apply(change(seller, mfn, OrderStatus.PENDING, latest, at=now - timedelta(minutes=9)),
          change(seller, mfn, OrderStatus.UNSHIPPED, latest, channel=None),
          change(seller, afn, OrderStatus.PENDING, latest, channel="AFN", at=now - timedelta(minutes=9)),
          change(seller, afn, OrderStatus.UNSHIPPED, latest, channel=None))
    assert due(seller, now + WINDOW) == [mfn]


def test_each_order_is_alerted_once_per_threshold(seller):
    now = datetime.now(UTC)
    soon, late = _order_id(), _order_id()
    apply(change(seller, soon, OrderStatus.UNSHIPPED, now + timedelta(hours=2)),
          change(seller, late, OrderStatus.UNSHIPPED, now - timedelta(minutes=30)))
    publisher = Recorded()
    first = run(seller, publisher, now)
    assert first == {"due": 2, "late": 1, "alerted": 2}
    subject, text = publisher.sent[0]
    assert "late to ship" in subject and "due to ship within 12 h" in subject
    mine = [line for line in text.splitlines() if soon in line or late in line]
    assert [line.split()[0] for line in mine] == ["LATE", "DUE"]
    assert run(seller, publisher, now + timedelta(minutes=15))["alerted"] == 0  # nothing new: no second e-mail
    assert len(publisher.sent) == 1
    # Three hours on, the due order is late: one more alert, for it alone.
    run(seller, publisher, now + timedelta(hours=3))
    assert len(publisher.sent) == 2
    assert soon in publisher.sent[1][1] and late not in publisher.sent[1][1]


def test_a_digest_the_topic_refuses_is_sent_by_the_next_run(seller):
    now = datetime.now(UTC)
    order = _order_id()
    apply(change(seller, order, OrderStatus.UNSHIPPED, now + timedelta(hours=1)))
    with pytest.raises(AlertNotSent):
        run(seller, Recorded(refuse=True), now)
    publisher = Recorded()
    run(seller, publisher, now)
    assert order in publisher.sent[0][1]


def test_the_digest_reaches_the_alerts_topic_under_the_schedule_s_role(aws_stack, seller):
    """The real SNS adapter, within alert_ship_by's IAM policy; a queue subscribed to the topic
    stands for the seller's e-mail."""
    from chalicelib.core.alerts import SnsAlerts

    sqs, sns = aws_stack.client("sqs"), aws_stack.client("sns")
    queue_url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=aws_stack.outputs["AlertsTopicArn"], Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    now = datetime.now(UTC)
    order = _order_id()
    apply(change(seller, order, OrderStatus.UNSHIPPED, now - timedelta(hours=2)))
    run(seller, SnsAlerts(), now)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    bodies = [m["Body"] for m in messages]
    assert any(order in body and "LATE" in body for body in bodies), json.dumps(bodies)[:500]


def test_an_order_that_shipped_since_the_index_was_read_is_not_alerted(seller):
    from chalicelib.flows.shipments import wiring
    from chalicelib.flows.shipments.shipby import Threshold, mark

    now = datetime.now(UTC)
    order_id = _order_id()
    apply(change(seller, order_id, OrderStatus.UNSHIPPED, now - timedelta(hours=1), at=now - timedelta(minutes=5)))
    with running("alert_ship_by"):
        (read,), _ = wiring.due_index().due(seller, now + WINDOW, 10, None)
    apply(change(seller, order_id, OrderStatus.SHIPPED, now - timedelta(hours=1)))
    with running("alert_ship_by"):
        assert not wiring.due_index().mark_alerted(order_id, mark(Threshold.LATE, read.latest_ship_date),
                                                   read.ship_by_key)


def test_orders_stored_before_the_index_are_indexed_once_by_the_upgrade_command(aws_stack, seller):
    from infra.sellers import index_ship_by

    now = datetime.now(UTC)
    old, shipped = _order_id(), _order_id()
    apply(change(seller, old, OrderStatus.UNSHIPPED, now + timedelta(hours=3)),
          change(seller, shipped, OrderStatus.SHIPPED, now + timedelta(hours=3)))
    dynamodb = aws_stack.client("dynamodb")
    for order_id in (old, shipped):  # as the orders table held them before the index
        dynamodb.update_item(TableName=aws_stack.outputs["OrdersTableName"], Key={"order_id": {"S": order_id}},
                             UpdateExpression="REMOVE ship_by_seller, ship_by_key")
    assert due(seller, now + WINDOW) == []
    assert index_ship_by(seller) == 1
    assert due(seller, now + WINDOW) == [old]
    assert index_ship_by(seller) == 0  # once
