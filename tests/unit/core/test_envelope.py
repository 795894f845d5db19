"""Envelope parsing against every example in Amazon's notification schemas (tests/fixtures)."""
import json
from pathlib import Path

import pytest

from chalicelib.core.envelope import parse_notification, subtype
from chalicelib.core.errors import InvalidNotification
from tests.builders import order_change

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "spapi" / "notifications"


def _examples():
    for path in sorted(FIXTURES.glob("*.json")):
        schema = json.loads(path.read_text())
        for index, example in enumerate(schema.get("examples") or []):
            yield pytest.param(example, id=f"{path.stem}[{index}]")


EXAMPLES = list(_examples())


def test_the_fixtures_hold_amazons_examples():
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_amazon_example_parses_into_a_notification(example):
    notification = parse_notification(json.dumps(example))
    assert notification.notification_type == (example.get("NotificationType") or example.get("notificationType"))
    metadata = example.get("NotificationMetadata") or example.get("notificationMetadata")
    assert notification.notification_id == (metadata.get("NotificationId") or metadata.get("notificationId"))
    assert notification.payload


def test_camel_case_envelopes_parse_like_pascal_case_ones():
    pascal = order_change(notification_id="n-1")
    camel = {k[0].lower() + k[1:]: v for k, v in pascal.items()}
    camel["notificationMetadata"] = {k[0].lower() + k[1:]: v for k, v in pascal["NotificationMetadata"].items()}
    assert parse_notification(json.dumps(camel)).notification_id == "n-1"


def test_an_eventbridge_event_is_unwrapped_from_detail():
    listing = next(p.values[0] for p in EXAMPLES
                   if p.values[0].get("NotificationType") == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE")
    event = {"version": "0", "id": "eb-1", "detail-type": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
             "source": "aws.partner/sellingpartnerapi.amazon/amzn1.sellerapps.app.x", "detail": listing}
    notification = parse_notification(json.dumps(event))
    assert notification.via_eventbridge
    assert notification.notification_type == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
    assert notification.seller_id == "AXXXXXXXXXXXXX"


@pytest.mark.parametrize("raw, reason", [
    ("not json at all {", "not JSON"),
    ("[1, 2]", "not an object"),
    ('{"hello": "world"}', "NotificationType is missing"),
    (json.dumps({**order_change(), "NotificationMetadata": {}}), "NotificationId is missing"),
    (json.dumps({k: v for k, v in order_change().items() if k != "Payload"}), "Payload is missing"),
])
def test_malformed_messages_are_refused_with_a_readable_reason(raw, reason):
    with pytest.raises(InvalidNotification, match=reason):
        parse_notification(raw)


@pytest.mark.parametrize(("name", "expected"), [
    ("ReportProcessingFinishedNotification", "GET_FLAT_FILE_ACTIONABLE_ORDER_DATA"),
    ("FeedProcessingFinishedNotification", "POST_PRODUCT_DATA"),
    ("OrderChangeNotification", None),
])
def test_report_and_feed_notifications_name_the_report_or_feed_type_their_flow_consumes(name, expected):
    example = json.loads((FIXTURES / f"{name}.json").read_text())["examples"][0]
    assert subtype(parse_notification(json.dumps(example))) == expected
