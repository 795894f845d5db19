"""Order services on in-memory fakes: intake outcomes, details fetch, limiter waits, backstop."""
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.envelope import parse_notification
from chalicelib.core.errors import InvalidNotification, Parked, PermanentError, RetryLater, WaitForSlot
from chalicelib.core.flow import Consumer
from chalicelib.core.intake import handle_message
from chalicelib.core.tasks import Outcome, Slot, Slots, Task, handle_retry
from chalicelib.core.times import iso
from chalicelib.flows.orders import service as order_service
from chalicelib.flows.orders.parsing import ORDER_CHANGE
from chalicelib.flows.orders.rules import OrderStatus
from chalicelib.flows.stock.triggers import order_task
from tests.builders import amazon_order, body, order_change
from tests.fakes import FakeAmazon, FakeBuyerData, FakeLimiter, FakeOrders, FakePollState, FakeSearches, FakeTasks

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
    # With when Amazon changed it: an open search door reads the orders changed since it opened.
    at = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert intake.tasks.tasks == [order_service.fetch_task("A2EUQ1WTGCTBG2", "028-1234567-1234567",
                                                           "A1PA6795UKMFR9", "order changed", at),
                                  order_task("A2EUQ1WTGCTBG2", "028-1234567-1234567", at)]  # merchant: stock
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


# --- the search door --------------------------------------------------------------------------

SELLER, MARKETPLACE = "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9"
SEARCH_NAME = f"{SELLER}#{MARKETPLACE}"


def door_ports(amazon=None, limiter=None):
    return order_service.TaskPorts(orders=FakeOrders(), tasks=FakeTasks(), slots=Slots(limiter or FakeLimiter()),
                                   amazon=amazon or FakeAmazon({"028-1234567-1234567": amazon_order()}),
                                   buyer_data=FakeBuyerData(), poll_state=FakePollState(), searches=FakeSearches())


def changed_task(order_id="028-1234567-1234567", at=NOW - timedelta(minutes=1)):
    return order_service.fetch_task(SELLER, order_id, MARKETPLACE, "order changed", at)


def test_a_booking_far_behind_opens_the_search_and_keeps_its_own_slot():
    wait = 151 / FakeLimiter().rate("getOrder")  # 151 calls booked ahead of it
    p = door_ports(limiter=FakeLimiter(waits=[wait]))
    with pytest.raises(WaitForSlot):
        order_service.fetch_order_details(changed_task(), p, NOW)
    since, lease = p.searches.rows[SEARCH_NAME]
    assert since == NOW - timedelta(minutes=1) - p.search_lookback and lease > NOW.timestamp()
    (page, _), = p.tasks.sent
    assert (page.kind, datetime.fromisoformat(page.param("since"))) == (order_service.SEARCH_DETAILS, since)


def test_a_short_wait_opens_nothing():
    p = door_ports(limiter=FakeLimiter(waits=[100 / FakeLimiter().rate("getOrder")]))
    with pytest.raises(WaitForSlot):
        order_service.fetch_order_details(changed_task(), p, NOW)
    assert p.searches.rows == {} and p.tasks.sent == []


def fba_order_held(p, status="UNSHIPPED"):
    """An FBA order we hold, paid for, whose details were never read."""
    raw = amazon_order(status=status)
    raw["fulfillment"]["fulfilledBy"] = "AMAZON"
    p.orders.apply_change(order_service.parsing.order_change(SELLER, raw), NOW)
    p.amazon.orders[raw["orderId"]] = raw
    return raw


def test_while_a_search_is_open_an_fba_order_changed_since_waits_for_its_page_without_calling_amazon():
    p = door_ports()
    fba_order_held(p)
    p.searches.rows[SEARCH_NAME] = (NOW - timedelta(minutes=10), NOW.timestamp() + 600)
    with pytest.raises(Parked) as parked:
        order_service.fetch_order_details(changed_task(), p, NOW)
    assert p.amazon.calls == [] and p.slots.limiter.calls == []
    queue = FakeTasks()
    assert handle_retry(changed_task(), parked.value, queue) is Outcome.PARKED
    (back, delay), = queue.sent
    assert back.attempt == 0 and delay == p.park_seconds, "parked is not a failure"


def test_an_order_the_open_search_does_not_read_waits_for_getorder_without_opening_another():
    wait = 400 / FakeLimiter().rate("getOrder")  # getOrder's queue is long: the door would open
    p = door_ports(limiter=FakeLimiter(waits=[wait]))
    fba_order_held(p)
    p.searches.rows[SEARCH_NAME] = (NOW - timedelta(minutes=10), NOW.timestamp() + 600)
    with pytest.raises(WaitForSlot):
        order_service.fetch_order_details(changed_task(at=NOW - timedelta(minutes=11)), p, NOW)
    assert p.searches.opened == [] and p.tasks.sent == []  # one is open: no refused write, no second chain


def test_a_search_page_given_up_closes_its_door_for_the_orders_parked_on_it():
    p = door_ports()
    since = NOW - timedelta(minutes=10)
    p.searches.rows[SEARCH_NAME] = (since, NOW.timestamp() + 600)
    page = order_service.search_task(SELLER, MARKETPLACE, since).with_params(next_token="t", before=iso(NOW))
    older = order_service.search_task(SELLER, MARKETPLACE, since - timedelta(minutes=5))
    order_service.search_given_up(older, p, "searchOrders: Amazon rejected the request", NOW)
    assert p.searches.closed == [], "a chain that is no longer the open one closes nothing"
    order_service.search_given_up(page, p, "searchOrders: Amazon rejected the request", NOW)
    assert p.searches.closed == [SEARCH_NAME]
    fba_order_held(p)  # an order parked on it comes back: getOrder reads it
    assert order_service.fetch_order_details(changed_task(), p, NOW).outcome is Outcome.DONE


def test_while_a_search_is_open_a_merchant_order_still_goes_through_getorder():
    p = door_ports()
    p.searches.rows[SEARCH_NAME] = (NOW - timedelta(minutes=10), NOW.timestamp() + 600)
    raw = amazon_order()
    p.orders.apply_change(order_service.parsing.order_change(SELLER, raw), NOW)
    assert order_service.fetch_order_details(changed_task(), p, NOW).outcome is Outcome.DONE
    assert p.amazon.calls == [("getOrder", SELLER, raw["orderId"])]


def test_an_order_changed_before_the_search_began_or_a_silent_search_goes_through_getorder():
    p = door_ports()
    fba_order_held(p)
    p.searches.rows[SEARCH_NAME] = (NOW - timedelta(minutes=10), NOW.timestamp() + 600)
    early = changed_task(at=NOW - timedelta(minutes=11))
    assert order_service.fetch_order_details(early, p, NOW).outcome is Outcome.DONE
    p = door_ports()
    fba_order_held(p)
    p.searches.rows[SEARCH_NAME] = (NOW - timedelta(minutes=10), NOW.timestamp() - 1)  # its chain went silent
    assert order_service.fetch_order_details(changed_task(), p, NOW).outcome is Outcome.DONE
    assert p.amazon.calls == [("getOrder", SELLER, "028-1234567-1234567")]


class PagedAmazon(FakeAmazon):
    """searchOrders in pages of `size`, by lastUpdatedTime then order id, as the model says."""

    def __init__(self, orders, size=2):
        super().__init__(orders)
        self.size = size
        self.included: list[tuple[str, ...]] = []
        self.lanes: list[tuple] = []
        self.asked: dict[str, tuple] = {}  # what the request that issued each token asked

    def search_orders(self, seller_id, marketplace_id, last_updated_after, next_token=None,
                      included_data=("FULFILLMENT",), statuses=(), fulfilled_by=None):
        self.calls.append(("searchOrders", seller_id, marketplace_id))
        self.included.append(tuple(included_data))
        self.lanes.append((tuple(statuses), fulfilled_by))
        asked = (marketplace_id, last_updated_after, tuple(statuses), fulfilled_by)
        if next_token is not None and self.asked.get(next_token) != asked:
            # the simulator's rule (infra/local/amazon/orders.py): a page repeats the first request
            raise PermanentError("searchOrders: Amazon rejected the request (InvalidInput: paginationToken was "
                                 "issued for other parameters)")
        found = sorted((o for o in self.orders.values()
                        if datetime.fromisoformat(o["lastUpdatedTime"]) >= last_updated_after
                        and (not statuses or o["fulfillment"]["fulfillmentStatus"] in statuses)
                        and (not fulfilled_by or o["fulfillment"]["fulfilledBy"] == fulfilled_by)),
                       key=lambda o: (o["lastUpdatedTime"], o["orderId"]))
        start = int(next_token or 0)
        page = found[start:start + self.size]
        token = str(start + self.size) if start + self.size < len(found) else None
        if token is not None:
            self.asked[token] = asked
        return page, token, "2026-11-22T11:58:00Z"


def fba(order_id, updated, status="UNSHIPPED"):
    raw = amazon_order(order_id, status=status, updated=updated)
    raw["fulfillment"]["fulfilledBy"] = "AMAZON"
    return raw


def test_a_search_page_takes_in_every_due_order_on_it_and_leaves_the_others():
    orders = {f"028-000000{i}-1234567": fba(f"028-000000{i}-1234567", f"2026-11-22T11:0{i}:00Z") for i in range(5)}
    orders["028-0000009-1234567"] = amazon_order("028-0000009-1234567", updated="2026-11-22T11:09:00Z")  # merchant
    amazon = PagedAmazon(orders, size=3)
    p = door_ports(amazon=amazon)
    # One of them already holds its details as Amazon has them: nothing is due.
    done = "028-0000003-1234567"
    p.orders.apply_change(order_service.parsing.order_change(SELLER, orders[done]), NOW)
    p.orders.save_details(done, order_service.parsing.order_details(orders[done]))
    p.searches.rows[SEARCH_NAME] = (NOW - timedelta(hours=1), NOW.timestamp() + 60)
    first = order_service.search_task(SELLER, MARKETPLACE, NOW - timedelta(hours=1))
    result = order_service.search_details(first, p, NOW)
    assert (result.facts["details"], result.facts["next"]) == (3, "page")
    assert set(amazon.included[0]) == set(order_service.parsing.INCLUDED_DATA)
    assert amazon.lanes[0][:2] == (("UNSHIPPED", "CANCELLED"), "AMAZON")  # only what the search door reads
    (following, _), = [(t, d) for t, d in p.tasks.sent if t.kind == order_service.SEARCH_DETAILS]
    assert following.param("before") == "2026-11-22T11:58:00Z", "every page of a window has the same bound"
    second = order_service.search_details(following, p, NOW)
    assert (second.facts["orders"], second.facts["details"]) == (2, 1)
    for order_id in orders:
        if order_id != "028-0000009-1234567":
            assert p.orders.get(order_id)[1] is OrderStatus.UNSHIPPED
            assert order_id == done or order_id in p.buyer_data.saved
    assert "028-0000009-1234567" not in p.buyer_data.saved  # a merchant order: getOrder's
    assert p.slots.limiter.calls == [(SELLER, "searchOrders")] * 2
    # 4 due orders over an hour's window, getOrder's queue short: the door closes.
    assert second.facts["next"] == "closed" and p.searches.closed == [SEARCH_NAME]
    # A task parked for one of them comes back to find its details there.
    assert order_service.fetch_order_details(changed_task("028-0000001-1234567"), p, NOW).outcome is Outcome.SKIPPED


def test_a_busy_window_or_a_full_getorder_queue_is_followed_by_the_next_window():
    orders = {f"028-{i:07d}-1234567": fba(f"028-{i:07d}-1234567", "2026-11-22T11:57:30Z") for i in range(40)}
    p = door_ports(amazon=PagedAmazon(orders, size=100))
    since = datetime(2026, 11, 22, 11, 57, tzinfo=UTC)
    p.searches.rows[SEARCH_NAME] = (since, NOW.timestamp() + 60)
    result = order_service.search_details(order_service.search_task(SELLER, MARKETPLACE, since), p, NOW)
    assert (result.facts["details"], result.facts["next"]) == (40, "window")  # 40 in a minute: getOrder reads 29
    (following, _), = [(t, d) for t, d in p.tasks.sent if t.kind == order_service.SEARCH_DETAILS]
    moved = datetime.fromisoformat(following.param("since"))
    assert moved == datetime(2026, 11, 22, 11, 58, tzinfo=UTC) - p.search_overlap
    assert p.searches.rows[SEARCH_NAME][0] == moved
    # An empty window while getOrder's queue is full: the search goes on.
    limiter = FakeLimiter()
    limiter.queue_length = 400
    quiet = door_ports(amazon=PagedAmazon({}, size=100), limiter=limiter)
    quiet.searches.rows[SEARCH_NAME] = (since, NOW.timestamp() + 60)
    again = order_service.search_details(order_service.search_task(SELLER, MARKETPLACE, since), quiet, NOW)
    assert again.facts["next"] == "window"


def test_a_merchant_order_shipped_in_packages_confirmed_through_sellerops_needs_no_read():
    class Ours:
        def __init__(self, units):
            self.units = units

        def confirmed_units(self, order_id):
            return self.units

    p = door_ports()
    raw = amazon_order()
    p.orders.apply_change(order_service.parsing.order_change(SELLER, raw), NOW)
    p.orders.save_details(raw["orderId"], order_service.parsing.order_details(raw))
    shipped = order_service.parsing.parse_order_change(parse_notification(body(order_change(
        status="Shipped", at="2026-11-02T10:00:00.000Z"))))
    p.orders.apply_change(shipped, NOW)
    task_ = changed_task()
    some = replace_ports(p, shipments=Ours({"11111111111111": 1}))  # one of its two units: Amazon's packages are read
    assert order_service.fetch_order_details(task_, some, NOW).outcome is Outcome.DONE
    assert p.amazon.calls == [("getOrder", SELLER, raw["orderId"])]
    p.amazon.calls.clear()
    p.orders.apply_change(order_service.parsing.parse_order_change(parse_notification(body(order_change(
        status="Shipped", at="2026-11-03T10:00:00.000Z", notification_id="later")))), NOW)
    every = replace_ports(p, shipments=Ours({"11111111111111": 2}))
    result = order_service.fetch_order_details(task_, every, NOW)
    assert result.outcome is Outcome.SKIPPED and result.facts["packages"] == "confirmed through sellerops"
    assert p.amazon.calls == [] and p.orders.get(raw["orderId"])[1] is OrderStatus.SHIPPED
    assert [t.kind for t in p.tasks.tasks][-1] == "issue_invoices"


def replace_ports(ports, **changes):
    from dataclasses import replace

    return replace(ports, **changes)


@pytest.mark.parametrize("value, on", [(None, True), ("true", True), ("false", False), ("0", False), ("OFF", False)])
def test_the_search_door_can_be_turned_off(monkeypatch, value, on):
    from chalicelib import config

    if value is None:
        monkeypatch.delenv("ORDER_SEARCH_DOOR", raising=False)
    else:
        monkeypatch.setenv("ORDER_SEARCH_DOOR", value)
    assert config.order_search_door() is on


def _fetches(tasks):
    return [t for t in tasks.tasks if t.kind == order_service.FETCH_ORDER]


def test_a_change_before_the_first_read_finds_it_queued_and_queues_no_other(intake):
    intake.handle(body(order_change(status="Unshipped", notification_id="n-1")))
    intake.handle(body(order_change(status="Shipped", at="2026-11-01T12:00:00.000Z", notification_id="n-2")))
    # the read queued at Unshipped reads Amazon's order as it is when it runs: shipped, packages and all
    assert len(_fetches(intake.tasks)) == 1


def test_the_change_that_makes_a_pending_order_due_queues_its_first_read(intake):
    intake.handle(body(order_change(status="Pending", notification_id="n-1")))
    assert _fetches(intake.tasks) == []  # no prices, no buyer before the payment
    intake.handle(body(order_change(status="Unshipped", at="2026-11-01T12:00:00.000Z", notification_id="n-2")))
    assert len(_fetches(intake.tasks)) == 1


def test_a_change_that_comes_while_amazon_is_read_is_read_again():
    p = ports()
    # Amazon's order as it was, unshipped, and the shipping notification applied before the read
    # is saved: it finds the read queued
    record = _reading_then(p, order_change(status="Shipped", at="2026-11-01T12:00:00.000Z", notification_id="n-2"))
    order_service.record_order_change(parse_notification(body(order_change(status="Unshipped"))), record, NOW)
    queued = len(_fetches(p.tasks))  # the first read, which runs below
    order_service.fetch_order_details(task(), p, NOW)
    order, details_status, _ = p.orders.get("028-1234567-1234567")
    assert order.status is OrderStatus.SHIPPED and details_status is OrderStatus.UNSHIPPED
    (again,) = _fetches(p.tasks)[queued:]  # the packages are read after all
    assert again.key == "028-1234567-1234567" and again.param("reason") == "order changed"


_WORDS = ["Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6), st.sampled_from(["MFN", "AFN"]))
def test_whatever_changes_come_before_the_first_read_one_read_is_queued_once_it_is_paid_for(words, channel):
    intake = Intake()
    for minute, word in enumerate(words):
        intake.handle(body(order_change(status=word, at=f"2026-11-01T10:{minute:02d}:00.000Z",
                                        notification_id=f"n-{minute}", fulfillment=channel)))
    paid = any(word != "Pending" for word in words)
    fetches = _fetches(intake.tasks)
    assert (len(fetches) >= 1) == paid
    # one per stretch of paid-for changes: a read queued is found by the changes after it
    stretches = sum(1 for before, word in zip(["Pending", *words], words, strict=False)
                    if word != "Pending" and before == "Pending")
    assert len(fetches) == stretches


def _reading_then(p, *changes):
    """Amazon answers the order as it was, and `changes` (ORDER_CHANGE bodies) are applied
    before the answer is saved: notifications that came in while Amazon was being read."""
    record = order_service.IntakePorts(p.orders, p.tasks)
    answer = p.amazon.get_order

    def reading(*args):
        raw = answer(*args)
        for change in changes:
            order_service.record_order_change(parse_notification(body(change)), record, NOW)
        return raw

    p.amazon.get_order = reading
    return record


def test_an_fba_order_shipped_while_its_first_read_runs_has_its_invoices_queued():
    p = ports()
    p.amazon.orders["028-1234567-1234567"]["fulfillment"]["fulfilledBy"] = "AMAZON"
    record = _reading_then(p, order_change(status="Shipped", at="2026-11-01T12:00:00.000Z", notification_id="n-2",
                                           fulfillment="AFN"))
    order_service.record_order_change(parse_notification(body(order_change(status="Unshipped", fulfillment="AFN"))),
                                      record, NOW)
    order_service.fetch_order_details(task(), p, NOW)
    assert [t.kind for t in p.tasks.tasks].count("issue_invoices") == 1  # nothing more to read: invoice it
    assert len(_fetches(p.tasks)) == 1  # the first read only


def test_a_merchant_order_stored_ahead_of_amazon_is_not_read_again_and_again():
    p = ports()
    record = order_service.IntakePorts(p.orders, p.tasks)
    for word, at, nid in (("Unshipped", "10:00", "n-1"), ("Shipped", "12:00", "n-2")):
        order_service.record_order_change(parse_notification(body(order_change(
            status=word, at=f"2026-11-01T{at}:00.000Z", notification_id=nid))), record, NOW)
    queued = len(_fetches(p.tasks))
    order_service.fetch_order_details(task(), p, NOW)  # Amazon still answers UNSHIPPED: it lags its notification
    assert len(_fetches(p.tasks)) == queued  # no change came in during the read: no read after read


def test_a_first_read_refused_for_its_money_is_tried_again_by_the_next_change(intake):
    p = ports()
    p.amazon.orders["028-1234567-1234567"]["orderItems"][0]["product"]["price"]["unitPrice"]["amount"] = "12.345"
    record = order_service.IntakePorts(p.orders, p.tasks)
    order_service.record_order_change(parse_notification(body(order_change(status="Unshipped"))), record, NOW)
    assert order_service.fetch_order_details(task(), p, NOW).outcome is Outcome.ATTENTION
    queued = len(_fetches(p.tasks))
    order_service.record_order_change(parse_notification(body(order_change(
        status="Shipped", at="2026-11-01T12:00:00.000Z", notification_id="n-2"))), record, NOW)
    assert len(_fetches(p.tasks)) == queued + 1
