"""Ship-by alerts: which threshold an order has crossed, once each, and the digest a person reads."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.times import format_duration, parse_duration
from chalicelib.flows.orders.rules import OrderStatus, awaits_merchant_shipping
from chalicelib.flows.shipments.shipby import (
    DIGEST_LINES,
    Alert,
    Threshold,
    digest,
    mark,
    sent_for,
    span,
    threshold,
    to_alert,
)

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
WINDOW = timedelta(hours=12)
offsets = st.integers(min_value=-30 * 24 * 60, max_value=30 * 24 * 60).map(lambda m: timedelta(minutes=m))


@given(offsets)
def test_an_order_is_late_past_its_latest_ship_date_due_within_the_window_else_nothing(offset):
    crossed = threshold(NOW + offset, NOW, WINDOW)
    if offset <= timedelta(0):
        assert crossed is Threshold.LATE
    elif offset <= WINDOW:
        assert crossed is Threshold.DUE
    else:
        assert crossed is None


@given(offsets, st.sets(st.sampled_from(list(Threshold))))
def test_an_alert_already_sent_is_never_earned_again_for_the_same_date(offset, sent):
    latest = NOW + offset
    alerted = frozenset(mark(t, latest) for t in sent)
    alert = to_alert("A1", "026-1", latest, alerted, NOW, WINDOW)
    assert alert is None or alert.threshold not in sent
    if alert is None and threshold(latest, NOW, WINDOW) is not None:
        assert threshold(latest, NOW, WINDOW) in sent
    assert sent_for(alerted, latest) == sorted(t.value for t in sent)


def test_a_latest_ship_date_amazon_moves_is_alerted_again():
    first = NOW + timedelta(hours=2)
    alerted = frozenset({mark(Threshold.DUE, first)})
    assert to_alert("A1", "026-1", first, alerted, NOW, WINDOW) is None
    moved = to_alert("A1", "026-1", first + timedelta(days=1, hours=-16), alerted, NOW, WINDOW)
    assert moved is not None and moved.threshold is Threshold.DUE


def test_an_order_first_seen_late_gets_the_late_alert_only():
    assert to_alert("A1", "026-1", NOW - timedelta(hours=1), frozenset(), NOW, WINDOW).threshold is Threshold.LATE


def test_the_digest_names_late_orders_first_counts_the_rest_and_holds_no_buyer_data():
    alerts = [Alert("A1", f"026-{i:07d}", NOW + timedelta(hours=1, minutes=i), Threshold.DUE)
              for i in range(DIGEST_LINES + 5)]
    alerts.append(Alert("A1", "026-late", NOW - timedelta(hours=2, minutes=5), Threshold.LATE))
    subject, text = digest(alerts, NOW, WINDOW)
    assert subject == f"sellerops: 1 order late to ship, {DIGEST_LINES + 5} due to ship within 12 h"
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  "))
    assert lines[first].split()[:2] == ["LATE", "026-late"] and "(2 h 05 min ago)" in lines[first]
    assert "in 1 h" in lines[first + 1]
    assert "... and 6 more: GET /shipments/due?sellerId=A1" in text
    assert len(subject) <= 100


def test_spans_read_as_a_person_says_them():
    assert [span(timedelta(minutes=m)) for m in (0, 12, 185, 720, 60 * 50)] == [
        "0 min", "12 min", "3 h 05 min", "12 h", "2 d 2 h"]


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)).map(
    lambda d: timedelta(seconds=int(d.total_seconds()))))
def test_a_duration_written_reads_back_the_same(duration):
    assert parse_duration(format_duration(duration)) == duration


def test_only_day_and_time_durations_are_read():
    assert parse_duration("PT24H") == timedelta(hours=24)
    assert parse_duration("P1DT12H") == timedelta(days=1, hours=12)
    for text in ("", "P", "PT", "P1DT", "24H", "P1M", "P1Y", "PT1.5H", "-PT1H", "pt1h", None):
        assert parse_duration(text) is None, text


def test_amazon_waits_for_the_seller_only_on_unshipped_merchant_orders():
    assert awaits_merchant_shipping(OrderStatus.UNSHIPPED, "MFN") is True
    assert awaits_merchant_shipping(OrderStatus.PARTIALLY_SHIPPED, "MFN") is True
    assert awaits_merchant_shipping(OrderStatus.UNSHIPPED, None) is None  # the stored order tells
    for status in (OrderStatus.PENDING, OrderStatus.SHIPPED, OrderStatus.CANCELLED, OrderStatus.UNFULFILLABLE):
        assert awaits_merchant_shipping(status, "MFN") is False
    assert awaits_merchant_shipping(OrderStatus.UNSHIPPED, "AFN") is False
