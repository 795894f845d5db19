"""Multi-Channel Fulfillment rules: one id one order, what may be cancelled, and Amazon's answer
read without the recipient, newest wins."""
from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.flows.fulfillment import rules
from chalicelib.flows.fulfillment.rules import FulfillmentRequest, Item, State

MODEL = (Path(__file__).resolve().parents[3] / "infra" / "local" / "amazon" / "models"
         / "fulfillmentOutbound_2020-07-01.json")
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RECIPIENT = {"name": "Ada", "addressLine1": "1 Road", "postalCode": "N1", "countryCode": "GB"}


def example() -> dict:
    """Amazon's own getFulfillmentOrder example (the model's), with a package added."""
    model = json.loads(MODEL.read_text())
    answer = model["paths"]["/fba/outbound/2020-07-01/fulfillmentOrders/{sellerFulfillmentOrderId}"]["get"][
        "responses"]["200"]["examples"]["payload"]
    answer = copy.deepcopy(answer)
    answer["fulfillmentShipments"][0]["fulfillmentShipmentPackage"] = [
        {"packageNumber": 1, "carrierCode": "UPS", "trackingNumber": "1Z999"}]
    return answer


def request(**changes) -> FulfillmentRequest:
    base = FulfillmentRequest("SHOP-1", "A1", "A1F83G8C2ARO7P", "10001", NOW - timedelta(hours=1), "Thanks",
                              "Standard", "FillOrKill", (Item("1", "SKU-1", 2),), RECIPIENT)
    return replace(base, **changes)


def test_amazon_s_answer_is_read_and_its_recipient_left_out():
    status, updated, snapshot = rules.snapshot_of(example())
    assert (status, updated) == ("PROCESSING", "2020-02-07T02:33:31Z")
    assert "1234 Amazon Way" not in json.dumps(snapshot) and "test1@amazon.com" not in json.dumps(snapshot)
    assert [i["sku"] for i in snapshot["items"]] == ["PSMM-TEST-SKU-Jan-21_19_59_44-0738", "CR-47K6-H6QN"]
    (shipment,) = snapshot["shipments"]
    assert shipment["status"] == "PENDING" and shipment["packages"][0]["trackingNumber"] == "1Z999"
    assert snapshot["returns"] == []


@given(st.dictionaries(st.sampled_from(["fulfillmentOrder", "fulfillmentOrderItems", "fulfillmentShipments",
                                        "returnItems"]),
                       st.recursive(st.none() | st.integers() | st.text(max_size=5),
                                    lambda inner: st.lists(inner, max_size=3)
                                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=10)))
def test_any_answer_is_read_without_raising(answer):
    status, updated, snapshot = rules.snapshot_of(answer)
    assert set(snapshot) >= {"items", "shipments", "returns"}


def test_the_same_id_is_the_same_order_and_another_request_under_it_a_conflict():
    order = rules.new_order(request(), NOW)
    rules.check_again(order, request())
    for other in (request(items=(Item("1", "SKU-1", 3),)), request(seller_id="A2"),
                  request(recipient={**RECIPIENT, "name": "Bob"})):
        with pytest.raises(rules.Refused) as refused:
            rules.check_again(order, other)
        assert refused.value.status == 409


@pytest.mark.parametrize("status, allowed", [("Received", True), ("Planning", True), ("Processing", False),
                                             ("Complete", False), ("Cancelled", False)])
def test_only_an_order_amazon_has_not_started_picking_may_be_cancelled(status, allowed):
    order = rules.with_snapshot(rules.created(rules.new_order(request(), NOW)), status, NOW, {}, NOW)
    assert order.cancellable is allowed
    if allowed:
        rules.check_cancel(order)
    else:
        with pytest.raises(rules.Refused, match="no longer allows"):
            rules.check_cancel(order)


def test_an_order_not_yet_at_amazon_or_refused_cannot_be_cancelled():
    requested = rules.new_order(request(), NOW)
    with pytest.raises(rules.Refused, match="on its way"):
        rules.check_cancel(requested)
    with pytest.raises(rules.Refused, match="nothing to cancel"):
        rules.check_cancel(rules.refused(requested, "InvalidInput: no such SKU"))


@given(st.lists(st.tuples(st.sampled_from(["Received", "Planning", "Processing", "Complete"]),
                          st.integers(min_value=0, max_value=100)), min_size=1, max_size=8))
def test_the_newest_answer_wins_whatever_order_they_come_in(answers):
    order = rules.created(rules.new_order(request(), NOW))
    for status, minutes in answers:
        newer = rules.with_snapshot(order, status, NOW + timedelta(minutes=minutes), {"status": status}, NOW)
        order = newer or order
    latest = max(minutes for _, minutes in answers)
    assert order.status_updated_at == NOW + timedelta(minutes=latest)
    assert order.state is State.CREATED
    assert rules.with_snapshot(order, order.amazon_status, order.status_updated_at, order.snapshot, NOW) is None


def test_a_read_made_earlier_never_replaces_a_later_one_even_under_the_same_date():
    order = rules.created(rules.new_order(request(), NOW))
    returned = {"returns": [{"status": "Processed"}]}
    later = rules.with_snapshot(order, "Complete", NOW, returned, NOW + timedelta(seconds=2))
    assert later is not None
    assert rules.with_snapshot(later, "Complete", NOW, {"returns": []}, NOW + timedelta(seconds=1)) is None


def test_amazon_s_times_are_read_or_none_never_an_error():
    assert rules.amazon_time("2020-02-07T02:33:31Z") == datetime(2020, 2, 7, 2, 33, 31, tzinfo=UTC)
    for value in (None, "", "yesterday", "2020-02-07T02:33:31", "12345"):
        assert rules.amazon_time(value) is None
