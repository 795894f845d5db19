"""OpenAPI 3.0 description of the HTTPS API (served at /openapi.json)."""

_MONEY = {"type": "object", "properties": {"amount": {"type": "string", "example": "29.99"},
                                           "currency": {"type": "string", "example": "EUR"}}}
_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
_STATUSES = ["PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE"]


def _err(description):
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "sellerops", "version": "1.0.0",
             "description": "Order status for Amazon sellers: where is order X, was it invoiced, was it paid."},
    "security": [{"bearer": []}],
    "paths": {
        "/orders/{orderId}": {"get": {
            "summary": "One order: status, timeline, items and, once fetched from Amazon, money.",
            "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The order",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
                          "400": _err("Malformed order id"), "401": _err("No bearer token"),
                          "403": _err("Wrong bearer token"), "404": _err("Unknown order")}}},
        "/orders": {"get": {
            "summary": "Orders of a seller, most recently updated first.",
            "parameters": [
                {"name": "sellerId", "in": "query", "schema": {"type": "string"},
                 "description": "Required when the deployment serves several sellers."},
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                {"name": "marketplaceId", "in": "query", "schema": {"type": "string"}},
                {"name": "updatedSince", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
                {"name": "nextToken", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "A page of orders", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "orders": {"type": "array", "items": {"$ref": "#/components/schemas/OrderSummary"}},
                    "nextToken": {"type": "string", "nullable": True}}}}}},
                "400": _err("Bad parameter"), "401": _err("No bearer token"), "403": _err("Wrong bearer token")}}},
        "/failures": {"get": {
            "summary": "Messages that failed, with the reason; dead-lettered ones are flagged.",
            "parameters": [{"name": "queue", "in": "query", "schema": {"type": "string", "enum": ["intake", "tasks"]}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                           {"name": "nextToken", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Failures, newest first", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"failures": {"type": "array", "items": {"$ref": "#/components/schemas/Failure"}},
                                                 "nextToken": {"type": "string", "nullable": True}}}}}},
                "400": _err("Bad parameter"), "401": _err("No bearer token"), "403": _err("Wrong bearer token")}}},
        "/health": {"get": {"summary": "Queue depths, dead letters, last notification, last schedule runs.",
                            "security": [], "responses": {"200": {"description": "Health"}}}},
        "/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI"}}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": _ERROR,
            "Money": _MONEY,
            "OrderSummary": {"type": "object", "properties": {
                "orderId": {"type": "string"}, "sellerId": {"type": "string"}, "marketplaceId": {"type": "string"},
                "status": {"type": "string", "enum": _STATUSES}, "fulfillmentChannel": {"type": "string", "enum": ["AFN", "MFN"]},
                "isBusinessOrder": {"type": "boolean"}, "purchaseDate": {"type": "string", "format": "date-time"},
                "updatedAt": {"type": "string", "format": "date-time"},
                "grandTotal": {"allOf": [{"$ref": "#/components/schemas/Money"}], "nullable": True}}},
            "Order": {"type": "object", "properties": {
                "orderId": {"type": "string"}, "sellerId": {"type": "string"}, "marketplaceId": {"type": "string"},
                "status": {"type": "string", "enum": _STATUSES}, "fulfillmentChannel": {"type": "string"},
                "orderType": {"type": "string"}, "isBusinessOrder": {"type": "boolean"}, "isPrime": {"type": "boolean"},
                "purchaseDate": {"type": "string", "format": "date-time"},
                "shipBy": {"type": "object"}, "deliverBy": {"type": "object"},
                "updatedAt": {"type": "string", "format": "date-time"},
                "items": {"type": "array", "items": {"type": "object", "properties": {
                    "orderItemId": {"type": "string"}, "sku": {"type": "string"}, "quantity": {"type": "integer"},
                    "quantityShipped": {"type": "integer"}, "unitPrice": {"$ref": "#/components/schemas/Money"},
                    "itemPrice": {"$ref": "#/components/schemas/Money"}, "shipping": {"$ref": "#/components/schemas/Money"},
                    "tax": {"$ref": "#/components/schemas/Money"}, "total": {"$ref": "#/components/schemas/Money"}}}},
                "timeline": {"type": "array", "items": {"type": "object", "properties": {
                    "status": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                    "source": {"type": "string"}, "notificationId": {"type": "string"}}}},
                "money": {"type": "object", "nullable": True, "properties": {
                    "currency": {"type": "string"}, "grandTotal": {"$ref": "#/components/schemas/Money"},
                    "breakdown": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Money"}}}},
                "detailsAsOf": {"type": "string", "format": "date-time", "nullable": True},
                "invoice": {"type": "object", "nullable": True}, "payment": {"type": "object", "nullable": True}}},
            "Failure": {"type": "object", "properties": {
                "message_id": {"type": "string"}, "queue": {"type": "string"}, "reason": {"type": "string"},
                "kind": {"type": "string", "enum": ["invalid", "unexpected"]},
                "first_seen": {"type": "string"}, "last_seen": {"type": "string"},
                "receive_count": {"type": "integer"}, "dead_lettered": {"type": "boolean"},
                "notification_type": {"type": "string", "nullable": True},
                "notification_id": {"type": "string", "nullable": True},
                "body_sha256": {"type": "string"}, "body_length": {"type": "integer"}}},
        },
    },
}
