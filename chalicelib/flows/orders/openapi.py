"""The orders flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import (
    DATE_TIME,
    DATE_TIME_FILTER,
    LIMIT,
    MARKETPLACE_ID,
    MONEY_REF,
    NEXT_TOKEN,
    ORDER_ID,
    SELLER_ID,
    errors,
    json_response,
    nullable,
    read,
    strict,
)

STATUSES = ["PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
            "UNFULFILLABLE"]
_STRING = {"type": "string"}
_NULLABLE_STRING = nullable(_STRING)
_NULLABLE_TIME = nullable(DATE_TIME)
_MONEY_OR_NULL = nullable(MONEY_REF)
_WINDOW = strict({"earliest": _NULLABLE_TIME, "latest": _NULLABLE_TIME})

_TIMES = {
    "amazonUpdatedAt": {**DATE_TIME, "description": "When Amazon last changed the order (its TimeOfOrderChange, "
                                                    "or getOrder's lastUpdatedTime), as far as sellerops knows"},
    "storedAt": {**DATE_TIME, "description": "When sellerops last stored a change of the order"},
}

PATHS = {
    "/orders/{orderId}": read({
        "operationId": "getOrder",
        "summary": "One order: status, timeline, items, packages and, once fetched from Amazon, money.",
        "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": ORDER_ID}],
        "responses": {"200": json_response("The order", {"$ref": "#/components/schemas/Order"}),
                      **errors(400, 404)}}),
    "/orders": read({
        "operationId": "listOrders",
        "summary": "A seller's orders, the most recently stored first.",
        "parameters": [
            {"name": "sellerId", "in": "query", "required": True, "schema": SELLER_ID,
             "description": "The seller (a 404 when the deployment does not serve it)"},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": STATUSES}},
            {"name": "marketplaceId", "in": "query", "schema": MARKETPLACE_ID},
            {"name": "storedSince", "in": "query", "schema": DATE_TIME_FILTER,
             "description": "Only orders sellerops stored at or after this time (storedAt)"},
            {"name": "amazonUpdatedSince", "in": "query", "schema": DATE_TIME_FILTER,
             "description": "Only orders Amazon changed at or after this time (amazonUpdatedAt)"},
            {"name": "limit", "in": "query", "schema": LIMIT},
            {"name": "nextToken", "in": "query", "schema": NEXT_TOKEN}],
        "responses": {"200": json_response("A page of orders", strict({
            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/OrderSummary"}},
            "nextToken": nullable(_STRING)})),
            **errors(400, 404)}}),
    "/sellers/{sellerId}/backlog": read({
        "operationId": "getSellerBacklog",
        "summary": "The seller's orders waiting for their details from Amazon: how many, and how long the "
                   "longest has waited.",
        "parameters": [{"name": "sellerId", "in": "path", "required": True, "schema": SELLER_ID}],
        "responses": {"200": json_response("The seller's backlog", {"$ref": "#/components/schemas/Backlog"}),
                      **errors(400, 404)}}),
}

_ITEM = strict({
    "orderItemId": _STRING, "sku": _NULLABLE_STRING, "quantity": {"type": "integer", "minimum": 0},
    "quantityShipped": {"type": "integer", "minimum": 0},
    "asin": _NULLABLE_STRING, "title": _NULLABLE_STRING,
    "unitPrice": _MONEY_OR_NULL, "itemPrice": _MONEY_OR_NULL, "shipping": _MONEY_OR_NULL,
    "discount": _MONEY_OR_NULL, "tax": _MONEY_OR_NULL, "itemTax": _MONEY_OR_NULL, "shippingTax": _MONEY_OR_NULL,
    "total": _MONEY_OR_NULL, "promotionIds": {"type": "array", "items": _STRING}})

SCHEMAS = {
    "Backlog": strict({
        "sellerId": _STRING,
        "detailsQueued": {"type": "integer", "minimum": 0,
                          "description": "getOrder calls booked ahead, beyond what Amazon's bucket lets go at once"},
        "oldestWaitSeconds": {"type": "integer", "minimum": 0,
                              "description": "How long the longest-waiting order has waited, or will have when read"},
        "searching": {"type": "boolean", "description": "Whether a searchOrders door is open for the seller"},
        "alertAfterSeconds": {"type": "integer",
                              "description": "Past this wait the seller is alerted (the alerts topic)"},
        "time": DATE_TIME}),
    "OrderSummary": strict({
        "orderId": ORDER_ID, "sellerId": SELLER_ID, "marketplaceId": _NULLABLE_STRING,
        "status": {"type": "string", "enum": STATUSES},
        "fulfillmentChannel": nullable({"type": "string", "example": "AFN"}),
        "isBusinessOrder": {"type": "boolean"}, "purchaseDate": _NULLABLE_TIME,
        **_TIMES,
        "grandTotal": _MONEY_OR_NULL}),
    "Order": strict({
        "orderId": ORDER_ID, "sellerId": SELLER_ID, "marketplaceId": _NULLABLE_STRING,
        "status": {"type": "string", "enum": STATUSES},
        "fulfillmentChannel": nullable({"type": "string", "example": "AFN"}),
        "orderType": nullable({"type": "string", "example": "StandardOrder"}),
        "isBusinessOrder": {"type": "boolean"}, "isPrime": {"type": "boolean"},
        "purchaseDate": _NULLABLE_TIME, "shipBy": _WINDOW, "deliverBy": _WINDOW,
        **_TIMES,
        "items": {"type": "array", "items": _ITEM},
        "packages": {"type": "array", "items": strict({
            "carrier": _NULLABLE_STRING, "trackingNumber": _NULLABLE_STRING, "shipTime": _NULLABLE_TIME,
            "status": _NULLABLE_STRING})},
        "timeline": {"type": "array", "items": strict({
            "status": {"type": "string", "enum": STATUSES}, "at": DATE_TIME,
            "source": {"type": "string", "example": "notification"},
            "notificationId": _NULLABLE_STRING})},
        "money": nullable(strict({
            "currency": _NULLABLE_STRING, "grandTotal": _MONEY_OR_NULL,
            "breakdown": {"type": "object", "additionalProperties": MONEY_REF}})),
        "detailsAsOf": _NULLABLE_TIME,
        "attention": nullable(strict({
            "reason": {"type": "string", "description": "Why the order needs a person (its money from Amazon "
                                                        "could not be taken as exact); money stays null until then"},
            "since": DATE_TIME})),
        "shipments": {"type": "array", "items": {"$ref": "#/components/schemas/Shipment"},
                      "description": "The packages the warehouse recorded (POST /orders/{orderId}/shipments) "
                                     "and where each confirmation to Amazon stands"},
        "invoice": nullable(strict({
            "state": {"type": "string", "description": "invoiced, waiting for the seller's profile, or nothing to "
                                                       "invoice yet"},
            "documents": {"type": "array", "items": strict({
                "number": {"type": "string"}, "type": {"type": "string", "enum": ["invoice", "creditNote"]},
                "total": {"type": "string"}, "state": {"type": "string"}})}})),
        "payment": nullable({"$ref": "#/components/schemas/OrderPayments"})}),
}
