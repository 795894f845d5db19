"""The orders flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import MONEY_REF, error_response

STATUSES = ["PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
            "UNFULFILLABLE"]

PATHS = {
    "/orders/{orderId}": {"get": {
        "summary": "One order: status, timeline, items and, once fetched from Amazon, money.",
        "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The order",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
                      "400": error_response("Malformed order id"), "401": error_response("No bearer token"),
                      "403": error_response("Wrong bearer token"), "404": error_response("Unknown order")}}},
    "/orders": {"get": {
        "summary": "Orders of a seller, most recently updated first.",
        "parameters": [
            {"name": "sellerId", "in": "query", "schema": {"type": "string"},
             "description": "Required when the deployment serves several sellers."},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": STATUSES}},
            {"name": "marketplaceId", "in": "query", "schema": {"type": "string"}},
            {"name": "updatedSince", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "limit", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
            {"name": "nextToken", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "A page of orders", "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "orders": {"type": "array", "items": {"$ref": "#/components/schemas/OrderSummary"}},
                "nextToken": {"type": "string", "nullable": True}}}}}},
            "400": error_response("Bad parameter"), "401": error_response("No bearer token"),
            "403": error_response("Wrong bearer token")}}},
}

SCHEMAS = {
    "OrderSummary": {"type": "object", "properties": {
        "orderId": {"type": "string"}, "sellerId": {"type": "string"}, "marketplaceId": {"type": "string"},
        "status": {"type": "string", "enum": STATUSES},
        "fulfillmentChannel": {"type": "string", "enum": ["AFN", "MFN"]},
        "isBusinessOrder": {"type": "boolean"}, "purchaseDate": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
        "grandTotal": {"allOf": [MONEY_REF], "nullable": True}}},
    "Order": {"type": "object", "properties": {
        "orderId": {"type": "string"}, "sellerId": {"type": "string"}, "marketplaceId": {"type": "string"},
        "status": {"type": "string", "enum": STATUSES}, "fulfillmentChannel": {"type": "string"},
        "orderType": {"type": "string"}, "isBusinessOrder": {"type": "boolean"}, "isPrime": {"type": "boolean"},
        "purchaseDate": {"type": "string", "format": "date-time"},
        "shipBy": {"type": "object"}, "deliverBy": {"type": "object"},
        "updatedAt": {"type": "string", "format": "date-time"},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "orderItemId": {"type": "string"}, "sku": {"type": "string"}, "quantity": {"type": "integer"},
            "quantityShipped": {"type": "integer"}, "unitPrice": MONEY_REF,
            "itemPrice": MONEY_REF, "shipping": MONEY_REF,
            "tax": MONEY_REF, "total": MONEY_REF}}},
        "timeline": {"type": "array", "items": {"type": "object", "properties": {
            "status": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
            "source": {"type": "string"}, "notificationId": {"type": "string"}}}},
        "money": {"type": "object", "nullable": True, "properties": {
            "currency": {"type": "string"}, "grandTotal": MONEY_REF,
            "breakdown": {"type": "object", "additionalProperties": MONEY_REF}}},
        "detailsAsOf": {"type": "string", "format": "date-time", "nullable": True},
        "invoice": {"type": "object", "nullable": True}, "payment": {"type": "object", "nullable": True}}},
}
