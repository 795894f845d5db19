"""What a warehouse may record against an order, and what Amazon's refusals mean (pure)."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.flows.shipments import rules
from chalicelib.flows.shipments.rules import OrderFacts, Refused, ShipmentRequest, ShipmentState

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ORDER = OrderFacts("028-1234567-1234567", "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", "UNSHIPPED", "MFN",
                   NOW - timedelta(days=1), (("11111", "MUG-RED", 3, 0), ("22222", "MUG-BLUE", 1, 0)))


def request(*lines, carrier="DHL", name=None, ship_date=NOW - timedelta(hours=1)):
    return ShipmentRequest(carrier, "00340434161234567890", ship_date, tuple(lines), carrier_name=name)


def test_a_shipment_resolves_skus_and_gets_the_next_number():
    first = rules.new_shipment(ORDER, (), request((None, "MUG-RED", 2)), NOW)
    assert first.lines == (rules.ShipmentLine("11111", 2, "MUG-RED"),)
    assert (first.number, first.package_reference_id, first.shipment_id) == (1, "1", "028-1234567-1234567.1")
    second = rules.new_shipment(ORDER, (first,), request(("11111", None, 1), ("22222", None, 1)), NOW)
    assert second.number == 2
    assert rules.shipped_quantities(ORDER, (first, second)) == {
        "11111": {"ordered": 3, "shipped": 3, "unshipped": 0}, "22222": {"ordered": 1, "shipped": 1, "unshipped": 0}}


@pytest.mark.parametrize("order, req, status, words", [
    (ORDER, request(("99999", None, 1)), 409, "orderItemId 99999 is not an item"),
    (ORDER, request((None, "NOPE", 1)), 409, "sku NOPE is not an item"),
    (ORDER, request(("11111", None, 4)), 409, "only 3 of it left to ship"),
    (ORDER, request(("11111", None, 2), (None, "MUG-RED", 2)), 409, "4 unit(s) to ship, but only 3"),
    (ORDER, request(("11111", None, 1), carrier="Other"), 400, "carrierName is required"),
    (ORDER, request(("11111", None, 1), ship_date=NOW + timedelta(hours=1)), 409, "in the future"),
    (ORDER, request(("11111", None, 1), ship_date=NOW - timedelta(days=3)), 409, "before the order was placed"),
    (OrderFacts(**{**ORDER.__dict__, "status": "CANCELLED"}),
     request(("11111", None, 1)), 409, "is cancelled: it must not be shipped"),
    (OrderFacts(**{**ORDER.__dict__, "fulfillment_channel": "AFN"}), request(("11111", None, 1)), 409,
     "fulfilled by Amazon"),
    (OrderFacts(**{**ORDER.__dict__, "status": "PENDING"}), request(("11111", None, 1)), 409, "not released"),
])
def test_what_cannot_be_recorded_says_why(order, req, status, words):
    with pytest.raises(Refused) as refused:
        rules.new_shipment(order, (), req, NOW)
    assert refused.value.status == status and words in refused.value.message


def test_a_refused_shipment_gives_its_units_back_and_amazon_s_count_is_not_added_to_ours():
    first = rules.new_shipment(ORDER, (), request(("11111", None, 3)), NOW)
    rejected = rules.answered(first, NOW, "packageDetail.orderItems[0].quantity 3 is more than the 0 unit(s) of "
                                          "item 11111 still to ship.")
    assert rejected.state is ShipmentState.REJECTED and "already shipped" in rejected.explanation
    assert rules.left_to_ship(ORDER, (rejected,))["11111"] == 3
    confirmed = rules.answered(first, NOW)
    amazon_knows = OrderFacts(**{**ORDER.__dict__, "items": (("11111", "MUG-RED", 3, 3), ("22222", "MUG-BLUE", 1, 0))})
    assert rules.left_to_ship(amazon_knows, (confirmed,))["11111"] == 0  # not -3


@given(st.lists(st.tuples(st.sampled_from(["11111", "22222"]), st.integers(1, 4)), max_size=12))
def test_whatever_is_asked_no_item_is_ever_shipped_beyond_what_was_ordered(asks):
    recorded = []
    for item_id, quantity in asks:
        try:
            recorded.append(rules.new_shipment(ORDER, tuple(recorded), request((item_id, None, quantity)), NOW))
        except Refused as refused:
            assert refused.status == 409
    for counts in rules.shipped_quantities(ORDER, tuple(recorded)).values():
        assert 0 <= counts["shipped"] <= counts["ordered"]
        assert counts["shipped"] + counts["unshipped"] == counts["ordered"]
    assert [s.number for s in recorded] == list(range(1, len(recorded) + 1))


@pytest.mark.parametrize("message, words", [
    ("packageDetail.carrierName is required when carrierCode is Other.", "carrier's name"),
    ("Order 028-1 is CANCELLED and cannot be shipped.", "cancelled meanwhile"),
    ("something new", "see its answer"),
])
def test_amazon_s_refusals_are_explained_in_plain_words(message, words):
    assert words in rules.explain(message)


def test_shipment_ids_read_back():
    assert rules.parse_shipment_id("028-1234567-1234567.12") == ("028-1234567-1234567", 12)
    for wrong in ("028-1234567-1234567", "028-1234567-1234567.0", "x.1", "028-1234567-1234567.1.2", ""):
        assert rules.parse_shipment_id(wrong) is None


def test_a_package_reference_amazon_already_holds_is_never_reused():
    """Packages confirmed in Seller Central (or by another tool) hold their own references."""
    order = OrderFacts(**{**ORDER.__dict__, "amazon_packages": ("1", "2", "4")})
    first = rules.new_shipment(order, (), request(("11111", None, 1)), NOW)
    second = rules.new_shipment(order, (first,), request(("11111", None, 1)), NOW)
    assert (first.package_reference_id, second.package_reference_id) == ("3", "5")
