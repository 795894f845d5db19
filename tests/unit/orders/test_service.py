"""Order services on in-memory fakes: intake outcomes, details fetch, limiter waits, backstop."""
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.envelope import parse_notification
from chalicelib.core.errors import InvalidNotification, PermanentError, RetryLater, WaitForSlot
from chalicelib.core.flow import Consumer
from chalicelib.core.intake import handle_message
from chalicelib.core.tasks import Outcome, Slot, Slots, Task, handle_retry
from chalicelib.flows.orders import service as order_service
from chalicelib.flows.orders.parsing import ORDER_CHANGE
from chalicelib.flows.orders.rules import OrderStatus
from tests.builders import amazon_order, body, order_change
from tests.fakes import FakeAmazon, FakeBuyerData, FakeLimiter, FakeOrders, FakePollState, FakeTasks

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Intake:
    """The orders flow's intake on fakes, dispatched as the registry would."""

    def __init__(self):
        self.ports = order_service.IntakePorts(orders=FakeOrders(), tasks=FakeTasks())
        self.consumers = (Consumer(ORDER_CHANGE, order_service.record_order_change, lambda: self.ports),)

    def handle(self, message):
        return handle_message(message, lambda n: tuple(c for c in self.consumers
                                                       if c.notification_type == n.notification_type), NOW)

    @property
    def orders(self):
        return self.ports.orders

    @property
    def tasks(self):
        return self.ports.tasks


@pytest.fixture
def intake():
    return Intake()


def test_a_new_order_is_created_and_its_details_are_queued_for_fetching(intake):
    handled = intake.handle(body(order_change(status="Unshipped")))
    assert handled.outcome is Outcome.CREATED
    assert intake.tasks.tasks == [order_service.fetch_task("A2EUQ1WTGCTBG2", "028-1234567-1234567",
                                                           "A1PA6795UKMFR9", "order changed")]
    assert handled.marketplace_ids == {"A1PA6795UKMFR9"}


def test_the_same_notification_twice_is_a_duplicate_and_writes_nothing(intake):
    message = body(order_change(notification_id="n-1"))
    intake.handle(message)
    writes = intake.orders.writes
    assert intake.handle(message).outcome is Outcome.DUPLICATE
    assert intake.orders.writes == writes


def test_the_same_change_resent_under_a_new_notification_id_is_recorded_once(intake):
    """Amazon may repeat a change (same order, status and change time) with a new NotificationId."""
    intake.handle(body(order_change(status="Unshipped", at="2026-11-01T10:00:00.000Z", notification_id="n-1")))
    intake.handle(body(order_change(status="Shipped", at="2026-11-01T12:00:00.000Z", notification_id="n-2")))
    again = intake.handle(body(order_change(status="Unshipped", at="2026-11-01T10:00:00.000Z", notification_id="n-3")))
    latest = intake.handle(body(order_change(status="Shipped", at="2026-11-01T12:00:00.000Z", notification_id="n-4")))
    assert (again.outcome, latest.outcome) == (Outcome.DUPLICATE, Outcome.DUPLICATE)
    order = intake.orders.get("028-1234567-1234567")[0]
    assert [(e.status, e.notification_id) for e in order.timeline] == [
        (OrderStatus.UNSHIPPED, "n-1"), (OrderStatus.SHIPPED, "n-2")]


def test_an_older_status_arriving_late_is_kept_in_history_only(intake):
    intake.handle(body(order_change(status="Shipped", at="2026-11-01T12:00:00.000Z")))
    late = intake.handle(body(order_change(status="Unshipped", at="2026-11-01T10:00:00.000Z")))
    assert late.outcome is Outcome.STALE
    order = intake.orders.get("028-1234567-1234567")[0]
    assert order.status is OrderStatus.SHIPPED
    assert [e.status for e in order.timeline] == [OrderStatus.UNSHIPPED, OrderStatus.SHIPPED]


def test_a_type_without_handler_is_acknowledged_not_failed(intake):
    message = json.dumps({"notificationVersion": "1.0", "notificationType": "REPORT_PROCESSING_FINISHED",
                          "payload": {"reportProcessingFinishedNotification": {"sellerId": "S"}},
                          "notificationMetadata": {"notificationId": "r-1"}})
    assert intake.handle(message).outcome is Outcome.UNHANDLED
    assert intake.tasks.tasks == []


def test_malformed_messages_raise_a_permanent_error(intake):
    with pytest.raises(InvalidNotification):
        intake.handle("{oops")


def ports(amazon=None, limiter=None):
    return order_service.TaskPorts(orders=FakeOrders(), tasks=FakeTasks(), slots=Slots(limiter or FakeLimiter()),
                                   amazon=amazon or FakeAmazon({"028-1234567-1234567": amazon_order()}),
                                   buyer_data=FakeBuyerData(), poll_state=FakePollState())


def task():
    return order_service.fetch_task("A2EUQ1WTGCTBG2", "028-1234567-1234567", "A1PA6795UKMFR9", "order changed")


def test_fetching_details_stores_exact_money_and_encrypts_buyer_data_apart():
    p = ports()
    # No notification brought this order (as when the backstop finds it): its details create it.
    assert order_service.fetch_order_details(task(), p, NOW).outcome is Outcome.CREATED
    order, details_status, _ = p.orders.get("028-1234567-1234567")
    assert details_status is OrderStatus.UNSHIPPED
    assert str(order.details.grand_total) == "43.97 EUR"
    assert p.buyer_data.saved["028-1234567-1234567"]["personal"]["buyer"]["buyerName"] == "Erika Mustermann"
    # 30 days after the latest promised delivery
    assert p.buyer_data.saved["028-1234567-1234567"]["expires_at"] == datetime(2026, 12, 6, 23, 59, 59, tzinfo=UTC)


def test_an_empty_bucket_books_a_slot_and_returns_the_task_until_then():
    p = ports(limiter=FakeLimiter(waits=[7.5]))
    with pytest.raises(WaitForSlot) as raised:
        order_service.fetch_order_details(task(), p, NOW)
    assert raised.value.delay_seconds == 7.5
    queue = FakeTasks()
    assert handle_retry(task(), raised.value, queue) is Outcome.WAITING
    (waiting, delay), = queue.sent
    assert waiting.slot == Slot("getOrder", NOW.timestamp() + 7.5) and delay == 7.5
    assert waiting.attempt == 0, "waiting for a slot is not a failure"
    # Back at its slot, it calls Amazon without booking again.
    assert order_service.fetch_order_details(waiting, p, NOW + timedelta(seconds=8)).outcome is Outcome.CREATED
    assert p.slots.limiter.calls == [("A2EUQ1WTGCTBG2", "getOrder")]


def test_details_of_an_order_a_notification_brought_complete_it():
    p = ports()
    notification = parse_notification(body(order_change("028-1234567-1234567")))
    order_service.record_order_change(notification, order_service.IntakePorts(p.orders, p.tasks), NOW)
    assert order_service.fetch_order_details(task(), p, NOW).outcome is Outcome.DONE
    assert p.orders.get("028-1234567-1234567")[0].order_type == "StandardOrder"


def test_details_already_fresh_are_not_fetched_again():
    p = ports()
    order_service.fetch_order_details(task(), p, NOW)
    assert order_service.fetch_order_details(task(), p, NOW).outcome is Outcome.SKIPPED
    assert len(p.amazon.calls) == 1


def test_amazon_throttling_surfaces_as_retry_later():
    p = ports(amazon=FakeAmazon({}, errors=[RetryLater("Amazon throttled getOrder", 2)]))
    with pytest.raises(RetryLater):
        order_service.fetch_order_details(task(), p, NOW)


def test_a_transient_failure_returns_the_task_counted_and_gives_up_past_the_cap():
    queue = FakeTasks()
    assert handle_retry(task(), RetryLater("Amazon failed getOrder", 30), queue) is Outcome.RETRIED
    (again, delay), = queue.sent
    assert again.attempt == 1 and delay == 30
    worn_out = Task(order_service.FETCH_ORDER, "S", "O", attempt=50)
    with pytest.raises(PermanentError, match="gave up after 50 retries: Amazon failed getOrder"):
        handle_retry(worn_out, RetryLater("Amazon failed getOrder", 30), queue)


def test_an_order_amazon_does_not_know_is_a_permanent_failure():
    p = ports(amazon=FakeAmazon({}))
    with pytest.raises(PermanentError, match="does not know"):
        order_service.fetch_order_details(task(), p, NOW)


def test_the_backstop_queues_orders_that_no_notification_brought():
    p = ports(amazon=FakeAmazon({"028-1234567-1234567": amazon_order(updated="2026-11-22T11:00:00Z")}))
    poll = order_service.poll_task("A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", datetime(2026, 11, 21, tzinfo=UTC))
    result = order_service.poll_orders(poll, p, NOW)
    assert result.facts == {"polled": 1, "behind": 1}
    assert [t.key for t in p.tasks.tasks] == ["028-1234567-1234567"]
    assert p.poll_state.watermark("A2EUQ1WTGCTBG2#A1PA6795UKMFR9") == datetime(2029, 12, 31, 23, 55, tzinfo=UTC)


def test_the_schedule_queues_one_poll_per_seller_and_marketplace():
    state = FakePollState([{"seller_id": "S1", "marketplace_ids": ["A1PA6795UKMFR9", "A13V1IB3VIYZZH"]}])
    tasks = FakeTasks()
    assert order_service.schedule_polls(state, tasks, NOW) == 2
    assert {t.param("marketplace_id") for t in tasks.tasks} == {"A1PA6795UKMFR9", "A13V1IB3VIYZZH"}


def test_a_task_returning_long_after_its_slot_books_again_instead_of_bursting():
    p = ports(limiter=FakeLimiter(waits=[5.0, 3.0]))
    with pytest.raises(WaitForSlot) as first:
        order_service.fetch_order_details(task(), p, NOW)
    late = task().waiting(Slot(first.value.operation, first.value.at))
    with pytest.raises(WaitForSlot) as second:
        order_service.fetch_order_details(late, p, NOW + timedelta(seconds=30))
    assert second.value.delay_seconds == 3.0
    assert len(p.slots.limiter.calls) == 2 and p.amazon.calls == []


def test_a_delivered_package_makes_the_buyer_data_expire_30_days_after_delivery():
    """getOrder says DELIVERED but not when: Amazon's last change, capped by the promise."""
    shipped = amazon_order(status="SHIPPED", updated="2026-11-05T08:00:00Z")
    shipped["packages"] = [{"packageReferenceId": "1", "carrier": "DHL", "trackingNumber": "T1",
                            "shipTime": "2026-11-03T10:00:00Z", "packageStatus": {"status": "DELIVERED"}}]
    p = ports(amazon=FakeAmazon({"028-1234567-1234567": shipped}))
    order_service.fetch_order_details(task(), p, NOW)
    saved = p.buyer_data.saved["028-1234567-1234567"]
    assert saved["delivered_at"] == datetime(2026, 11, 5, 8, 0, tzinfo=UTC)
    assert saved["expires_at"] == datetime(2026, 12, 5, 8, 0, tzinfo=UTC), "not the promised 6th + 30 days"


def test_an_easyship_delivery_notice_brings_the_buyer_data_expiry_forward():
    p = ports()
    order_service.fetch_order_details(task(), p, NOW)  # buyer data kept until the promise + 30 days
    delivered = order_change("028-1234567-1234567", "Shipped", at="2026-11-03T09:00:00.000Z")
    delivered["Payload"]["OrderChangeNotification"]["Summary"]["EasyShipShipmentStatus"] = "Delivered"
    intake = order_service.IntakePorts(p.orders, p.tasks, p.buyer_data)
    order_service.record_order_change(parse_notification(body(delivered)), intake, NOW)
    assert p.buyer_data.saved["028-1234567-1234567"]["expires_at"] == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
