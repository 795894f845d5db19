"""Order state rules: which change wins, whatever the delivery order."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.flows.orders.rules import (
    Door,
    OrderChange,
    OrderStatus,
    Read,
    UnknownStatus,
    apply_change,
    backlog_of,
    buyer_data_expiry,
    details_due,
    door,
    keeps_searching,
    opens_search,
    packages_known,
    to_status,
)

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def change(status: OrderStatus, minutes: int, nid: str) -> OrderChange:
    return OrderChange(seller_id="S1", order_id="O1", marketplace_id="A1PA6795UKMFR9", status=status,
                       changed_at=T0 + timedelta(minutes=minutes), notification_id=nid)


@pytest.mark.parametrize("word, status", [
    ("Pending", OrderStatus.PENDING), ("Unshipped", OrderStatus.UNSHIPPED),
    ("PartiallyShipped", OrderStatus.PARTIALLY_SHIPPED), ("Shipped", OrderStatus.SHIPPED),
    ("Canceled", OrderStatus.CANCELLED), ("Unfulfillable", OrderStatus.UNFULFILLABLE),
    ("PendingAvailability", OrderStatus.PENDING_AVAILABILITY), ("InvoiceUnconfirmed", OrderStatus.SHIPPED),
    ("PARTIALLY_SHIPPED", OrderStatus.PARTIALLY_SHIPPED), ("CANCELLED", OrderStatus.CANCELLED),
])
def test_both_status_vocabularies_map_to_the_v2026_words(word, status):
    assert to_status(word) is status


def test_an_unknown_status_word_is_refused_with_the_word_in_the_reason():
    with pytest.raises(UnknownStatus, match="Teleported"):
        to_status("Teleported")


def test_a_newer_change_moves_the_order_and_an_older_one_does_not():
    first = apply_change(None, change(OrderStatus.UNSHIPPED, 1, "a"), NOW)
    shipped = apply_change(first, change(OrderStatus.SHIPPED, 5, "b"), NOW)
    assert shipped.status is OrderStatus.SHIPPED
    assert apply_change(shipped, change(OrderStatus.UNSHIPPED, 3, "c"), NOW) is None


def test_a_repeated_notification_changes_nothing():
    first = apply_change(None, change(OrderStatus.UNSHIPPED, 1, "a"), NOW)
    assert apply_change(first, change(OrderStatus.UNSHIPPED, 1, "a"), NOW) is None


def test_two_changes_at_the_same_instant_resolve_to_the_further_status():
    a = apply_change(None, change(OrderStatus.SHIPPED, 1, "a"), NOW)
    assert apply_change(a, change(OrderStatus.UNSHIPPED, 1, "b"), NOW) is None
    b = apply_change(None, change(OrderStatus.UNSHIPPED, 1, "b"), NOW)
    assert apply_change(b, change(OrderStatus.SHIPPED, 1, "a"), NOW).status is OrderStatus.SHIPPED


events = st.lists(
    st.tuples(st.sampled_from(list(OrderStatus)), st.integers(min_value=0, max_value=50)),
    min_size=1, max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(events=events, data=st.data())
def test_any_delivery_order_with_repeats_ends_at_the_newest_change(events, data):
    changes = [change(status, minute, f"n{i}") for i, (status, minute) in enumerate(events)]
    deliveries = data.draw(st.lists(st.sampled_from(changes), min_size=0, max_size=10)) + changes
    deliveries = data.draw(st.permutations(deliveries))
    order = None
    applied = 0
    for c in deliveries:
        result = apply_change(order, c, NOW)
        if result is not None:
            applied += 1
            order = result
    newest = max(changes, key=lambda c: c.key)
    assert order.status is newest.status
    assert order.change_key == newest.key
    # Each notification is applied at most once, and never after a newer one.
    assert applied <= len({c.notification_id for c in changes})
    assert len({e.notification_id for e in order.timeline}) == len(order.timeline)


S = OrderStatus
LIFECYCLES = {
    # channel: the statuses of a typical life, and the reads it takes
    "MFN": ([S.PENDING, S.UNSHIPPED, S.PARTIALLY_SHIPPED, S.SHIPPED], [Read.FIRST, Read.PACKAGES, Read.PACKAGES]),
    "AFN": ([S.PENDING, S.UNSHIPPED, S.PARTIALLY_SHIPPED, S.SHIPPED], [Read.FIRST]),
}


@pytest.mark.parametrize("status, read_at, channel, due", [
    (S.PENDING, None, "MFN", None),  # no prices, no buyer before the payment
    (S.PENDING_AVAILABILITY, None, "AFN", None),
    (S.UNSHIPPED, None, "MFN", Read.FIRST),
    (S.SHIPPED, None, "AFN", Read.FIRST),  # first seen shipped: one read does it all
    (S.UNSHIPPED, S.PENDING, "MFN", Read.FIRST),  # read while pending (earlier releases): the money now
    (S.UNSHIPPED, S.UNSHIPPED, "MFN", None),
    (S.SHIPPED, S.UNSHIPPED, "MFN", Read.PACKAGES),
    (S.SHIPPED, S.PARTIALLY_SHIPPED, None, Read.PACKAGES),  # channel unknown: as a merchant order
    (S.SHIPPED, S.UNSHIPPED, "AFN", None),
    (S.CANCELLED, S.UNSHIPPED, "AFN", Read.CANCELLATION),
    (S.CANCELLED, S.CANCELLED, "MFN", None),
    (S.UNFULFILLABLE, S.UNSHIPPED, "AFN", None),
])
def test_details_are_read_only_when_amazon_has_something_new_we_use(status, read_at, channel, due):
    assert details_due(status, read_at, channel) is due


@pytest.mark.parametrize("channel", sorted(LIFECYCLES))
def test_a_typical_life_takes_one_read_fba_and_one_per_parcel_merchant(channel):
    statuses, expected = LIFECYCLES[channel]
    read_at, reads = None, []
    for status in statuses:
        due = details_due(status, read_at, channel)
        if due is not None:
            reads.append(due)
            read_at = status
    assert reads == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(OrderStatus)), min_size=1, max_size=12),
       st.sampled_from(["AFN", "MFN", None]))
def test_reads_are_bounded_and_never_repeat_for_an_unchanged_status(statuses, channel):
    read_at, reads = None, 0
    for status in statuses:
        due = details_due(status, read_at, channel)
        if due is not None:
            reads += 1
            read_at = status
            assert details_due(status, read_at, channel) is None  # once read, nothing is due until it moves
    moves = sum(1 for a, b in zip(statuses, statuses[1:], strict=False) if a != b)
    assert reads <= moves + 1


def test_buyer_data_expires_thirty_days_after_the_latest_delivery_date():
    latest = datetime(2026, 11, 6, 23, 59, tzinfo=UTC)
    assert buyer_data_expiry(None, latest, None, NOW) == latest + timedelta(days=30)
    assert buyer_data_expiry(None, None, T0, NOW) == T0 + timedelta(days=60)
    delivered = latest - timedelta(days=10)  # delivered early: the 30 days run from the delivery
    assert buyer_data_expiry(delivered, latest, T0, NOW) == delivered + timedelta(days=30)


def test_while_a_search_is_open_it_reads_the_fba_orders_changed_since_and_getorder_the_rest():
    since, first = T0, Read.FIRST
    assert door(T0 + timedelta(seconds=1), since, False, "AFN", first) is Door.SEARCH
    assert door(T0, since, False, "AFN", Read.CANCELLATION) is Door.SEARCH
    assert door(T0 + timedelta(seconds=1), since, False, "MFN", first) is Door.GET_ORDER  # not in its lane
    assert door(T0 + timedelta(seconds=1), since, False, "MFN", Read.PACKAGES) is Door.GET_ORDER
    assert door(T0 + timedelta(seconds=1), since, False, None, first) is Door.GET_ORDER  # channel unknown
    assert door(T0 - timedelta(seconds=1), since, False, "AFN", first) is Door.GET_ORDER  # before the search
    assert door(T0 + timedelta(hours=1), None, False, "AFN", first) is Door.GET_ORDER  # no search open
    assert door(T0 + timedelta(hours=1), since, True, "AFN", first) is Door.GET_ORDER  # its booked slot is used
    assert door(None, since, False, "AFN", first) is Door.GET_ORDER  # a task that does not say when


def test_the_search_opens_past_a_page_and_a_half_of_booked_getorder_calls():
    assert not opens_search(0) and not opens_search(149.9)
    assert opens_search(150) and opens_search(10_000)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.floats(1, 86_400), st.floats(0.01, 100), st.floats(0, 1_000))
def test_searching_goes_on_while_getorder_is_full_or_the_window_was_busy(due, seconds, rate, queued):
    expected = queued >= 150 or due / seconds >= 0.5 * rate
    assert keeps_searching(due, seconds, rate, queued) == expected
    if keeps_searching(due, seconds, rate, queued):  # more orders or a longer queue never close it
        assert keeps_searching(due + 1, seconds, rate, queued) and keeps_searching(due, seconds, rate, queued + 1)


def test_the_backlog_is_the_getorder_queue_or_the_open_search_whichever_waits_longer():
    quiet = backlog_of(0, 0.5, None, NOW)
    assert (quiet.get_order_queued, quiet.oldest_wait_seconds, quiet.searching) == (0, 0.0, False)
    queued = backlog_of(300, 0.5, None, NOW)  # 300 calls at 0.5/s: the last booked waits 10 minutes
    assert (queued.get_order_queued, queued.oldest_wait_seconds) == (300, 600.0)
    searching = backlog_of(10, 0.5, NOW - timedelta(minutes=25), NOW)
    assert searching.searching and searching.oldest_wait_seconds == 25 * 60


def test_packages_are_known_when_every_shipped_unit_went_in_a_package_confirmed_through_sellerops():
    from chalicelib.flows.orders.rules import OrderLine

    lines = (OrderLine("A", "MUG", 2, 1), OrderLine("B", "CUP", 1, 0))
    assert packages_known(S.PARTIALLY_SHIPPED, lines, {"A": 1})
    assert not packages_known(S.PARTIALLY_SHIPPED, lines, {})  # confirmed in Seller Central: read Amazon's
    assert not packages_known(S.SHIPPED, lines, {"A": 2})  # shipped: every unit, B's too
    assert packages_known(S.SHIPPED, lines, {"A": 2, "B": 1})
    assert not packages_known(S.SHIPPED, (), {"A": 2})
