"""The backlog a seller sees: orders waiting for their details, from the limiter's buckets and
the search records (service.backlogs), watched by the backstop (gauges per seller, an alert past
15 minutes at most once an hour)."""
from datetime import UTC, datetime, timedelta

from chalicelib.flows.orders import service
from chalicelib.flows.orders.rules import BACKLOG_ALERT_SECONDS
from tests.fakes import FakePollState

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BUSY, QUIET = "A2EUQ1WTGCTBG2", "A1OTHERSELLER1"


class Sources(FakePollState):
    def __init__(self, searches=None):
        super().__init__([{"seller_id": BUSY, "marketplace_ids": ["A1PA6795UKMFR9"]},
                          {"seller_id": QUIET, "marketplace_ids": ["A1PA6795UKMFR9"]}])
        self._searches = searches or {}

    def searches(self):
        return self._searches


class Queues:
    """getOrder calls booked ahead per seller, at Amazon's 0.5 a second."""

    def __init__(self, queued):
        self._queued = queued
        self.asked: list[str] = []

    def queued(self, seller_id, operation, now):
        self.asked.append(seller_id)
        return self._queued.get(seller_id, 0.0)

    def rate(self, operation):
        return 0.5


class Alerts:
    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def publish(self, subject, message):
        self.sent.append((subject, message))


def test_each_seller_s_backlog_is_its_getorder_queue_or_its_open_search_whichever_waits_longer():
    name = service.watermark_name(BUSY, "A1PA6795UKMFR9")
    sources = Sources({name: (NOW - timedelta(minutes=20), NOW.timestamp() + 600)})
    found = service.backlogs(sources, Queues({BUSY: 300.0}), NOW)
    assert found[BUSY].get_order_queued == 300 and found[BUSY].searching
    assert found[BUSY].oldest_wait_seconds == 20 * 60  # the search's 20 minutes beat getOrder's 10
    assert found[QUIET].get_order_queued == 0 and not found[QUIET].searching
    # A search whose lease ran out is over: getOrder's queue alone.
    silent = Sources({name: (NOW - timedelta(minutes=20), NOW.timestamp() - 1)})
    assert service.backlogs(silent, Queues({BUSY: 300.0}), NOW)[BUSY].oldest_wait_seconds == 600


def test_one_seller_s_backlog_reads_only_its_own_bucket():
    queues = Queues({BUSY: 30.0, QUIET: 4.0})
    found = service.backlogs(Sources(), queues, NOW, only=QUIET)
    assert set(found) == {QUIET} and queues.asked == [QUIET]


def test_a_wait_past_the_threshold_alerts_the_seller_once_an_hour_and_gauges_every_seller(monkeypatch):
    gauges = []
    monkeypatch.setattr("chalicelib.core.observability.gauge",
                        lambda name, value, **dimensions: gauges.append((name, value, dimensions)))
    state, alerts = Sources(), Alerts()
    over = (BACKLOG_ALERT_SECONDS + 60) * 0.5  # calls booked ahead: 16 minutes of getOrder
    found = service.backlogs(state, Queues({BUSY: over, QUIET: 10.0}), NOW)
    facts = service.watch_backlog(found, state, alerts, NOW)
    assert facts == {"details_queued": int(over) + 10, "details_oldest_wait_seconds": 960, "backlog_alerts": 1}
    (subject, message), = alerts.sent
    assert BUSY in subject and "16 minutes" in subject and QUIET not in subject + message
    assert ("OrdersDetailsQueued", 10, {"seller": QUIET}) in gauges
    assert ("OrdersDetailsOldestWaitSeconds", 960, {"seller": BUSY}) in gauges
    assert ("OrdersDetailsQueued", int(over) + 10, {}) in gauges  # and the sum over sellers
    # 59 minutes later, still behind: not again; after the hour, again.
    assert service.watch_backlog(found, state, alerts, NOW + timedelta(minutes=59))["backlog_alerts"] == 0
    assert service.watch_backlog(found, state, alerts, NOW + timedelta(minutes=61))["backlog_alerts"] == 1
    assert len(alerts.sent) == 2


def test_on_the_local_stack_the_wait_is_counted_in_amazon_s_time():
    state, alerts = Sources(), Alerts()
    found = service.backlogs(state, Queues({BUSY: 100.0}), NOW)  # 200 s of the stack's clock
    assert service.watch_backlog(found, state, alerts, NOW, scale=1.0)["backlog_alerts"] == 0
    assert service.watch_backlog(found, state, alerts, NOW, scale=10.0)["backlog_alerts"] == 1  # 2,000 s
