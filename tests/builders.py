"""Tiny builders for notifications and Amazon orders, in Amazon's own shapes."""
from __future__ import annotations

import json
import uuid
from typing import Any


def order_change(order_id: str = "028-1234567-1234567", status: str = "Unshipped",
                 at: str = "2026-11-01T10:00:00.000Z", seller_id: str = "A2EUQ1WTGCTBG2",
                 notification_id: str | None = None, marketplace_id: str = "A1PA6795UKMFR9",
                 fulfillment: str = "MFN", business: bool = False, items: list[dict[str, Any]] | None = None) -> dict:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": at,
        "Payload": {"OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller_id,
            "AmazonOrderId": order_id,
            "OrderChangeType": "OrderStatusChange",
            "OrderChangeTrigger": {"TimeOfOrderChange": at, "ChangeReason": "Order status changed"},
            "Summary": {
                "MarketplaceId": marketplace_id,
                "OrderStatus": status,
                "PurchaseDate": "2026-11-01T09:00:00.000Z",
                "FulfillmentType": fulfillment,
                "OrderType": "StandardOrder",
                "EarliestShipDate": "2026-11-02T00:00:00.000Z",
                "LatestShipDate": "2026-11-03T23:59:59.000Z",
                "EarliestDeliveryDate": "2026-11-04T00:00:00.000Z",
                "LatestDeliveryDate": "2026-11-06T23:59:59.000Z",
                "OrderPrograms": ["Business"] if business else [],
                "OrderItems": items if items is not None else [
                    {"OrderItemId": "11111111111111", "SellerSKU": "MUG-BLUE", "Quantity": 2,
                     "QuantityShipped": 2 if status == "Shipped" else 0}],
            },
        }},
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.00000000-0000-0000-0000-000000000000",
            "SubscriptionId": "subscription-0000",
            "PublishTime": at,
            "NotificationId": notification_id or str(uuid.uuid4()),
        },
    }


def body(notification: dict) -> str:
    return json.dumps(notification)


def amazon_order(order_id: str = "028-1234567-1234567", status: str = "UNSHIPPED",
                 updated: str = "2026-11-01T10:05:00Z", marketplace_id: str = "A1PA6795UKMFR9") -> dict[str, Any]:
    """An Orders API v2026-01-01 Order, with money that adds up."""
    return {
        "orderId": order_id,
        "createdTime": "2026-11-01T09:00:00Z",
        "lastUpdatedTime": updated,
        "programs": [],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace_id, "marketplaceName": "Amazon.de"},
        "buyer": {"buyerName": "Erika Mustermann", "buyerEmail": "abc123@marketplace.amazon.de"},
        "recipient": {"deliveryAddress": {"name": "Erika Mustermann", "addressLine1": "Musterstr. 1",
                                          "city": "Berlin", "postalCode": "10115", "countryCode": "DE",
                                          "phone": "+49 30 1234567"}},
        "proceeds": {"grandTotal": {"amount": "43.97", "currencyCode": "EUR"}, "breakdowns": [
            {"type": "ITEM", "subtotal": {"amount": "39.98", "currencyCode": "EUR"}},
            {"type": "SHIPPING", "subtotal": {"amount": "3.99", "currencyCode": "EUR"}}]},
        "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": "MERCHANT",
                        "shipByWindow": {"earliestDateTime": "2026-11-02T00:00:00Z",
                                         "latestDateTime": "2026-11-03T23:59:59Z"},
                        "deliverByWindow": {"earliestDateTime": "2026-11-04T00:00:00Z",
                                            "latestDateTime": "2026-11-06T23:59:59Z"}},
        "orderItems": [{
            "orderItemId": "11111111111111", "quantityOrdered": 2,
            "product": {"asin": "B000000001", "title": "Blue mug", "sellerSku": "MUG-BLUE",
                        "price": {"unitPrice": {"amount": "19.99", "currencyCode": "EUR"}}},
            "proceeds": {"proceedsTotal": {"amount": "43.97", "currencyCode": "EUR"}, "breakdowns": [
                {"type": "ITEM", "subtotal": {"amount": "39.98", "currencyCode": "EUR"}},
                {"type": "SHIPPING", "subtotal": {"amount": "3.99", "currencyCode": "EUR"}},
                {"type": "TAX", "subtotal": {"amount": "7.02", "currencyCode": "EUR"}, "detailedBreakdowns": [
                    {"subtype": "ITEM", "value": {"amount": "6.38", "currencyCode": "EUR"}},
                    {"subtype": "SHIPPING", "value": {"amount": "0.64", "currencyCode": "EUR"}}]}]},
            "fulfillment": {"quantityFulfilled": 2 if status == "SHIPPED" else 0,
                            "quantityUnfulfilled": 0 if status == "SHIPPED" else 2},
        }],
    }
