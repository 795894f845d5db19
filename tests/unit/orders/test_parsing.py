"""What Amazon says about orders, read into the flow's rules: ORDER_CHANGE (Amazon's own example
and broken variants), and Amazon's Order (the model's own getOrder example) → our money, status
and personal data."""
import json
from pathlib import Path

import pytest

from chalicelib.core.envelope import parse_notification
from chalicelib.core.errors import InvalidNotification
from chalicelib.core.money import total
from chalicelib.flows.orders.parsing import order_change, order_details, parse_order_change, personal_data
from chalicelib.flows.orders.rules import OrderStatus
from tests.builders import body
from tests.builders import order_change as order_change_notification

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "spapi" / "notifications"

MODEL = Path(__file__).resolve().parents[3] / "infra" / "local" / "amazon" / "models" / "orders_2026-01-01.json"


def model_example():
    op = json.loads(MODEL.read_text())["paths"]["/orders/2026-01-01/orders/{orderId}"]["get"]
    return op["responses"]["200"]["examples"]["application/json"]["order"]


def test_amazons_example_order_is_read_exactly():
    details = order_details(model_example())
    assert details.status is OrderStatus.SHIPPED
    assert str(details.grand_total) == "103.97 GBP"
    assert str(total(details.breakdown.values(), "GBP")) == "103.97 GBP"
    line = details.lines[0]
    assert str(line.unit_price) == "29.99 GBP" and line.quantity == 3
    assert str(line.item_tax) == "3.00 GBP" and str(line.shipping_tax) == "1.00 GBP"
    assert line.promotion_ids == ("UK-BOXING-DAY-2024",)
    assert details.packages[0].tracking_number == "RR123456789GB"


def test_amazons_order_becomes_a_change_that_heals_a_lost_notification():
    change = order_change("A2EUQ1WTGCTBG2", model_example())
    assert change.status is OrderStatus.SHIPPED and change.source == "getOrder"
    assert change.fulfillment_channel == "MFN" and change.is_prime
    assert change.lines[0].quantity_shipped == 3
    assert change.order_type == "StandardOrder"  # as ORDER_CHANGE would say: recovered orders carry it too


def test_only_what_invoices_and_shipping_need_is_kept_of_personal_data():
    personal = personal_data(model_example())
    assert personal["buyer"] == {"buyerName": "James Wilson", "buyerEmail": "buyer-email@marketplace.amazon.co.uk"}
    assert personal["delivery_address"]["postalCode"] == "M1 2AB"
    assert "giftMessage" not in json.dumps(personal)


def test_the_order_change_example_becomes_an_order_change():
    example = json.loads((FIXTURES / "OrderChangeNotification.json").read_text())["examples"][0]
    change = parse_order_change(parse_notification(json.dumps(example)))
    assert change.order_id == "903-8868176-2219830"
    assert change.seller_id == "A3TH9S8BH6GOGM"
    assert change.status is OrderStatus.UNSHIPPED
    assert change.is_business
    assert change.lines[0].sku == "SellerSKUID1" and change.lines[0].quantity == 10
    # The change's own time orders changes, not the publishing time.
    assert change.changed_at.isoformat().startswith("2022-11-29T19:42:04")


def test_an_order_change_without_an_order_id_is_refused():
    n = order_change_notification()
    del n["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    with pytest.raises(InvalidNotification, match="AmazonOrderId is missing"):
        parse_order_change(parse_notification(body(n)))


def test_an_order_change_with_an_invalid_date_is_refused():
    n = order_change_notification()
    n["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = "yesterday-ish"
    with pytest.raises(InvalidNotification, match="TimeOfOrderChange 'yesterday-ish' is not an ISO 8601"):
        parse_order_change(parse_notification(body(n)))


def test_an_order_change_with_an_unknown_status_is_refused():
    n = order_change_notification(status="Teleported")
    with pytest.raises(InvalidNotification, match="Teleported"):
        parse_order_change(parse_notification(body(n)))
