"""Order services on in-memory fakes: intake outcomes, details fetch, limiter waits, backstop."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from chalicelib.domain.orders import OrderStatus
from chalicelib.errors import InvalidNotification, PermanentError, RetryLater
from chalicelib.services import orders as order_service
from chalicelib.services.intake import IntakePorts, Outcome, handle_message
from tests.builders import amazon_order, body, order_change
from tests.fakes import FakeAmazon, FakeBuyerData, FakeLimiter, FakeOrders, FakePollState, FakeTasks

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def intake():
    return IntakePorts(orders=FakeOrders(), tasks=FakeTasks())


def test_a_new_order_is_created_and_its_details_are_queued_for_fetching(intake):
    handled = handle_message(body(order_change(status="Unshipped")), intake, NOW)
    assert handled.outcome is Outcome.CREATED
    assert intake.tasks.tasks == [order_service.fetch_task("A2EUQ1WTGCTBG2", "028-1234567-1234567",
                                                           "A1PA6795UKMFR9", "order changed")]


def test_the_same_notification_twice_is_a_duplicate_and_writes_nothing(intake):
    message = body(order_change(notification_id="n-1"))
    handle_message(message, intake, NOW)
    writes = intake.orders.writes
    assert handle_message(message, intake, NOW).outcome is Outcome.DUPLICATE
    assert intake.orders.writes == writes


def test_an_older_status_arriving_late_is_kept_in_history_only(intake):
    handle_message(body(order_change(status="Shipped", at="2026-11-01T12:00:00.000Z")), intake, NOW)
    late = handle_message(body(order_change(status="Unshipped", at="2026-11-01T10:00:00.000Z")), intake, NOW)
    assert late.outcome is Outcome.STALE
    order = intake.orders.get("028-1234567-1234567")[0]
    assert order.status is OrderStatus.SHIPPED
    assert [e.status for e in order.timeline] == [OrderStatus.UNSHIPPED, OrderStatus.SHIPPED]


def test_a_type_without_handler_is_acknowledged_not_failed(intake):
    message = json.dumps({"notificationVersion": "1.0", "notificationType": "REPORT_PROCESSING_FINISHED",
                          "payload": {"reportProcessingFinishedNotification": {"sellerId": "S"}},
                          "notificationMetadata": {"notificationId": "r-1"}})
    assert handle_message(message, intake, NOW).outcome is Outcome.UNHANDLED
    assert intake.tasks.tasks == []


def test_malformed_messages_raise_a_permanent_error(intake):
    with pytest.raises(InvalidNotification):
        handle_message("{oops", intake, NOW)


def ports(amazon=None, limiter=None):
    return order_service.TaskPorts(orders=FakeOrders(), tasks=FakeTasks(), limiter=limiter or FakeLimiter(),
                                   amazon=amazon or FakeAmazon({"028-1234567-1234567": amazon_order()}),
                                   buyer_data=FakeBuyerData(), poll_state=FakePollState())


def task():
    return order_service.fetch_task("A2EUQ1WTGCTBG2", "028-1234567-1234567", "A1PA6795UKMFR9", "order changed")


def test_fetching_details_stores_exact_money_and_encrypts_buyer_data_apart():
    p = ports()
    assert order_service.fetch_order_details(task(), p, NOW) == "fetched"
    order, details_status, _ = p.orders.get("028-1234567-1234567")
    assert details_status is OrderStatus.UNSHIPPED
    assert str(order.details.grand_total) == "43.97 EUR"
    assert p.buyer_data.saved["028-1234567-1234567"]["personal"]["buyer"]["buyerName"] == "Erika Mustermann"
    # 30 days after the latest promised delivery
    assert p.buyer_data.saved["028-1234567-1234567"]["expires_at"] == datetime(2026, 12, 6, 23, 59, 59, tzinfo=timezone.utc)


def test_an_empty_bucket_books_a_slot_and_returns_the_task_until_then():
    p = ports(limiter=FakeLimiter(waits=[7.5]))
    t = task()
    with pytest.raises(RetryLater) as raised:
        order_service.fetch_order_details(t, p, NOW)
    assert raised.value.delay_seconds == 7.5
    assert t["slot"] == NOW.timestamp() + 7.5
    # Back at its slot, it calls Amazon without booking again.
    assert order_service.fetch_order_details(t, p, NOW + timedelta(seconds=8)) == "fetched"
    assert p.limiter.calls == [("A2EUQ1WTGCTBG2", "getOrder")]


def test_details_already_fresh_are_not_fetched_again():
    p = ports()
    order_service.fetch_order_details(task(), p, NOW)
    assert order_service.fetch_order_details(task(), p, NOW) == "fresh"
    assert len(p.amazon.calls) == 1


def test_amazon_throttling_surfaces_as_retry_later():
    p = ports(amazon=FakeAmazon({}, errors=[RetryLater("Amazon throttled getOrder", 2)]))
    with pytest.raises(RetryLater):
        order_service.fetch_order_details(task(), p, NOW)


def test_an_order_amazon_does_not_know_is_a_permanent_failure():
    p = ports(amazon=FakeAmazon({}))
    with pytest.raises(PermanentError, match="does not know"):
        order_service.fetch_order_details(task(), p, NOW)


def test_the_backstop_queues_orders_that_no_notification_brought():
    p = ports(amazon=FakeAmazon({"028-1234567-1234567": amazon_order(updated="2026-11-22T11:00:00Z")}))
    poll = {"task": order_service.POLL_ORDERS, "seller_id": "A2EUQ1WTGCTBG2", "marketplace_id": "A1PA6795UKMFR9",
            "since": "2026-11-21T00:00:00+00:00"}
    order_service.poll_orders(poll, p, NOW, overlap=timedelta(minutes=5))
    assert [t["order_id"] for t in p.tasks.tasks] == ["028-1234567-1234567"]
    assert p.poll_state.watermark("A2EUQ1WTGCTBG2", "A1PA6795UKMFR9") == datetime(2029, 12, 31, 23, 55, tzinfo=timezone.utc)


def test_the_schedule_queues_one_poll_per_seller_and_marketplace():
    state = FakePollState([{"seller_id": "S1", "marketplace_ids": ["A1PA6795UKMFR9", "A13V1IB3VIYZZH"]}])
    tasks = FakeTasks()
    assert order_service.schedule_polls(state, tasks, NOW) == 2
    assert {t["marketplace_id"] for t in tasks.tasks} == {"A1PA6795UKMFR9", "A13V1IB3VIYZZH"}


def test_a_task_returning_long_after_its_slot_books_again_instead_of_bursting():
    p = ports(limiter=FakeLimiter(waits=[5.0, 3.0]))
    t = task()
    with pytest.raises(RetryLater):
        order_service.fetch_order_details(t, p, NOW)
    with pytest.raises(RetryLater) as raised:
        order_service.fetch_order_details(t, p, NOW + timedelta(seconds=30))
    assert raised.value.delay_seconds == 3.0
    assert len(p.limiter.calls) == 2 and p.amazon.calls == []
