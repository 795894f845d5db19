"""Amazon's Order (the model's own getOrder example) → our money, status and personal data."""
import json
from pathlib import Path

from chalicelib.amazon_orders import order_change, order_details, personal_data
from chalicelib.domain.money import total
from chalicelib.domain.orders import OrderStatus

MODEL = Path(__file__).resolve().parents[2] / "infra" / "local" / "spapi_models" / "orders_2026-01-01.json"


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


def test_only_what_invoices_and_shipping_need_is_kept_of_personal_data():
    personal = personal_data(model_example())
    assert personal["buyer"] == {"buyerName": "James Wilson", "buyerEmail": "buyer-email@marketplace.amazon.co.uk"}
    assert personal["delivery_address"]["postalCode"] == "M1 2AB"
    assert "giftMessage" not in json.dumps(personal)
