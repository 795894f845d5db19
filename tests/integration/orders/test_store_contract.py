"""The same contract on the in-memory fake and the DynamoDB adapter (moto), so the fake the
unit tests rely on behaves like the real thing."""
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.flows.orders.parsing import order_details
from chalicelib.flows.orders.rules import OrderChange, OrderStatus, Refused, TimelineEntry
from tests.builders import amazon_order
from tests.fakes import FakeOrders

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def repo(request):
    if request.param == "fake":
        return FakeOrders()
    request.getfixturevalue("aws_stack")
    from chalicelib.flows.orders.store import DynamoOrders

    return DynamoOrders()


@pytest.fixture
def order_id():
    return f"999-{uuid.uuid4().int % 10**7:07d}-{uuid.uuid4().int % 10**7:07d}"


def change(order_id, status, minutes, nid, seller="A2EUQ1WTGCTBG2"):
    return OrderChange(seller_id=seller, order_id=order_id, marketplace_id="A1PA6795UKMFR9", status=status,
                       changed_at=T0 + timedelta(minutes=minutes), notification_id=nid, fulfillment_channel="MFN")


def test_a_first_change_creates_the_order(repo, order_id):
    applied = repo.apply_change(change(order_id, OrderStatus.UNSHIPPED, 1, "n1"), NOW)
    assert applied.created and applied.order.status is OrderStatus.UNSHIPPED
    assert applied.details_status is None
    order, details_status, seen = repo.get(order_id)
    assert order.fulfillment_channel == "MFN" and seen == {"n1"}


def test_a_newer_change_updates_and_a_repeat_or_older_one_is_refused(repo, order_id):
    repo.apply_change(change(order_id, OrderStatus.UNSHIPPED, 1, "n1"), NOW)
    updated = repo.apply_change(change(order_id, OrderStatus.SHIPPED, 5, "n2"), NOW)
    assert not updated.created and updated.order.status is OrderStatus.SHIPPED
    for refused_change in (change(order_id, OrderStatus.SHIPPED, 5, "n2"),
                           change(order_id, OrderStatus.UNSHIPPED, 3, "n3"),
                           change(order_id, OrderStatus.CANCELLED, 9, "n4", seller="A1OTHERSELLER")):
        refused = repo.apply_change(refused_change, NOW)
        assert isinstance(refused, Refused)
        # what is stored comes back with the refusal: no read after it
        assert refused.stored == repo.get(order_id, consistent=True)
        order, _, seen = refused.stored
        assert order.status is OrderStatus.SHIPPED and seen == {"n1", "n2"}
    assert repo.get(order_id)[0].status is OrderStatus.SHIPPED


def test_a_late_change_joins_the_timeline_once_without_moving_the_order(repo, order_id):
    repo.apply_change(change(order_id, OrderStatus.SHIPPED, 5, "n2"), NOW)
    late = TimelineEntry(OrderStatus.UNSHIPPED, T0 + timedelta(minutes=1), "n1")
    assert repo.add_to_timeline(order_id, late)
    assert not repo.add_to_timeline(order_id, late)
    order = repo.get(order_id)[0]
    assert order.status is OrderStatus.SHIPPED
    assert [e.notification_id for e in order.timeline] == ["n1", "n2"]


def test_the_same_change_under_another_notification_id_joins_the_timeline_once(repo, order_id):
    """Amazon may send one change again with a new NotificationId (same status, same time)."""
    repo.apply_change(change(order_id, OrderStatus.UNSHIPPED, 1, "n1"), NOW)
    repo.apply_change(change(order_id, OrderStatus.SHIPPED, 5, "n2"), NOW)
    assert not repo.add_to_timeline(order_id,
                                    TimelineEntry(OrderStatus.UNSHIPPED, T0 + timedelta(minutes=1), "n1-again"))
    assert not repo.add_to_timeline(order_id, TimelineEntry(OrderStatus.SHIPPED, T0 + timedelta(minutes=5), "n2-again"))
    assert [e.notification_id for e in repo.get(order_id)[0].timeline] == ["n1", "n2"]


def test_details_are_stored_exactly_and_an_older_snapshot_never_replaces_a_newer_one(repo, order_id):
    repo.apply_change(change(order_id, OrderStatus.UNSHIPPED, 1, "n1"), NOW)
    newer = order_details(amazon_order(order_id, updated="2026-11-01T10:05:00Z"))
    older = replace(newer, as_of=newer.as_of - timedelta(hours=1), status=OrderStatus.PENDING)
    assert repo.save_details(order_id, newer)
    assert not repo.save_details(order_id, older)
    order, details_status, _ = repo.get(order_id)
    assert details_status is OrderStatus.UNSHIPPED
    assert order.details.grand_total.to_dict() == {"amount": "43.97", "currency": "EUR"}
    assert order.details.lines[0].item_tax.to_dict() == {"amount": "6.38", "currency": "EUR"}


def test_details_written_as_text_by_an_earlier_release_still_read_and_new_ones_are_packed(aws_stack, order_id):
    import json

    from chalicelib import config, resources
    from chalicelib.core import aws
    from chalicelib.flows.orders.store import DynamoOrders, details_to_json

    repo = DynamoOrders()
    repo.apply_change(change(order_id, OrderStatus.UNSHIPPED, 1, "n1"), NOW)
    details = order_details(amazon_order(order_id, updated="2026-11-01T10:05:00Z"))
    name = config.table_name(resources.ORDERS)
    dynamodb = aws.client("dynamodb")
    dynamodb.update_item(TableName=name, Key={"order_id": {"S": order_id}},
                         UpdateExpression="SET details = :d, details_status = :s, details_as_of = :a",
                         ExpressionAttributeValues={":d": {"S": json.dumps(details_to_json(details))},
                                                    ":s": {"S": "UNSHIPPED"}, ":a": {"S": "2026-11-01T10:05:00Z"}})
    assert repo.get(order_id)[0].details == details
    newer = replace(details, as_of=details.as_of + timedelta(hours=1))
    assert repo.save_details(order_id, newer)
    stored = dynamodb.get_item(TableName=name, Key={"order_id": {"S": order_id}})["Item"]["details"]
    assert "B" in stored and len(stored["B"]) < len(json.dumps(details_to_json(details))) / 2
    assert repo.get(order_id)[0].details == newer


def test_listing_filters_by_status_and_pages_without_repeats(repo):
    seller = f"S{uuid.uuid4().hex[:12].upper()}"
    ids = [f"{seller}-{i}" for i in range(5)]
    for i, oid in enumerate(ids):
        status = OrderStatus.SHIPPED if i % 2 else OrderStatus.UNSHIPPED
        repo.apply_change(change(oid, status, i, f"{oid}-n", seller=seller), NOW + timedelta(seconds=i))
    shipped, _ = repo.list(seller, status=OrderStatus.SHIPPED)
    assert {o.order_id for o in shipped} == {ids[1], ids[3]}
    seen, start = [], None
    while True:
        page, start = repo.list(seller, limit=2, start=start)
        seen += [o.order_id for o in page]
        if not start:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert seen[0] == ids[-1]  # most recently updated first


def _every_page(repo, seller, **filters):
    seen, start, pages = [], None, 0
    while True:
        page, start = repo.list(seller, start=start, **filters)
        seen += [o.order_id for o in page]
        pages += 1
        if not start:
            return seen, pages


def test_a_status_page_fills_from_one_index_and_the_next_starts_after_the_last_order_given(repo):
    seller = f"S{uuid.uuid4().hex[:12].upper()}"
    ids = [f"{seller}-{i:02d}" for i in range(13)]
    for i, oid in enumerate(ids):
        status = OrderStatus.UNSHIPPED if i % 3 == 0 else OrderStatus.SHIPPED
        repo.apply_change(change(oid, status, i, f"{oid}-n", seller=seller), NOW + timedelta(seconds=i))
    unshipped = [oid for i, oid in enumerate(ids) if i % 3 == 0][::-1]  # 12, 9, 6, 3, 0
    first, start = repo.list(seller, status=OrderStatus.UNSHIPPED, limit=2)
    assert [o.order_id for o in first] == unshipped[:2] and start is not None  # full, not two of what was read
    seen, pages = _every_page(repo, seller, status=OrderStatus.UNSHIPPED, limit=2)
    assert seen == unshipped and pages == 3
    # an order that leaves the status leaves its pages; one that enters joins them, most recent first
    repo.apply_change(change(ids[12], OrderStatus.SHIPPED, 30, "later-1", seller=seller), NOW + timedelta(minutes=5))
    repo.apply_change(change(ids[1], OrderStatus.UNSHIPPED, 31, "later-2", seller=seller), NOW + timedelta(minutes=6))
    seen, _ = _every_page(repo, seller, status=OrderStatus.UNSHIPPED, limit=2)
    assert seen == [ids[1], *unshipped[1:]]
    assert _every_page(repo, seller, marketplace_id="A1PA6795UKMFR9", limit=5)[0][:2] == [ids[1], ids[12]]


def test_a_change_is_stored_once_in_the_timeline_and_an_earlier_release_s_rows_still_read(aws_stack, order_id):
    from chalicelib import config, resources
    from chalicelib.core import aws
    from chalicelib.flows.orders.store import DynamoOrders

    repo = DynamoOrders()
    repo.apply_change(change(order_id, OrderStatus.UNSHIPPED, 1, "n1"), NOW)
    assert repo.add_to_timeline(order_id, TimelineEntry(OrderStatus.PENDING, T0, "n0", "getOrder"))
    name = config.table_name(resources.ORDERS)
    dynamodb = aws.client("dynamodb")
    item = dynamodb.get_item(TableName=name, Key={"order_id": {"S": order_id}})["Item"]
    # the notification id once, in the timeline; the usual source left out
    assert "notification_ids" not in item
    assert [sorted(e["M"]) for e in item["timeline"]["L"]] == [["at", "notification_id", "status"],
                                                             ["at", "notification_id", "source", "status"]]
    order, _, seen = repo.get(order_id)
    assert seen == {"n1", "n0"} and [e.source for e in order.timeline] == ["getOrder", "ORDER_CHANGE"]
    # a repeated notification, or the same change under another id, is still refused
    assert not repo.add_to_timeline(order_id, TimelineEntry(OrderStatus.PENDING, T0, "n0", "getOrder"))
    assert not repo.add_to_timeline(order_id, TimelineEntry(OrderStatus.PENDING, T0, "n9", "ORDER_CHANGE"))
    # a row an earlier release wrote: the ids also as a set, every source named
    dynamodb.update_item(TableName=name, Key={"order_id": {"S": order_id}},
                         UpdateExpression="SET notification_ids = :n, timeline[0].#s = :s",
                         ExpressionAttributeNames={"#s": "source"},
                         ExpressionAttributeValues={":n": {"SS": ["n1", "n0", "n-old"]}, ":s": {"S": "ORDER_CHANGE"}})
    order, _, seen = repo.get(order_id)
    assert seen == {"n1", "n0", "n-old"} and {e.source for e in order.timeline} == {"getOrder", "ORDER_CHANGE"}
