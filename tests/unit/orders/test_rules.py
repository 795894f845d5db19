"""Order state rules: which change wins, whatever the delivery order."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.flows.orders.rules import (
    OrderChange,
    OrderStatus,
    UnknownStatus,
    apply_change,
    buyer_data_expiry,
    needs_details,
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


def test_details_are_fetched_for_a_new_order_and_again_when_its_status_moves():
    assert needs_details(OrderStatus.UNSHIPPED, None)
    assert not needs_details(OrderStatus.UNSHIPPED, OrderStatus.UNSHIPPED)
    assert needs_details(OrderStatus.SHIPPED, OrderStatus.UNSHIPPED)


def test_buyer_data_expires_thirty_days_after_the_latest_delivery_date():
    latest = datetime(2026, 11, 6, 23, 59, tzinfo=UTC)
    assert buyer_data_expiry(None, latest, None, NOW) == latest + timedelta(days=30)
    assert buyer_data_expiry(None, None, T0, NOW) == T0 + timedelta(days=60)
    delivered = latest - timedelta(days=10)  # delivered early: the 30 days run from the delivery
    assert buyer_data_expiry(delivered, latest, T0, NOW) == delivered + timedelta(days=30)
