"""The fulfillment flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import (
    DATE_TIME,
    DATE_TIME_FILTER,
    MARKETPLACE_ID,
    SELLER_ID,
    errors,
    json_response,
    nullable,
    read,
    strict,
)
from chalicelib.flows.fulfillment.rules import POLICIES, SPEEDS

FULFILLMENT_ORDER_ID = {"type": "string", "pattern": r"^[A-Za-z0-9._-]{1,40}$", "example": "SHOP-10025",
                        "description": "Your id of the order (Amazon's sellerFulfillmentOrderId): one id, one order"}
_LINE = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"^[^\u0000-\u001f]+$"}
_REF = {"$ref": "#/components/schemas/FulfillmentOrder"}
_TEXT = {"type": "string"}

REQUEST = {
    "type": "object", "additionalProperties": False,
    "required": ["sellerId", "marketplaceId", "sellerFulfillmentOrderId", "displayableOrderId",
                 "displayableOrderDate", "destinationAddress", "items"],
    "properties": {
        "sellerId": SELLER_ID, "marketplaceId": MARKETPLACE_ID,
        "sellerFulfillmentOrderId": FULFILLMENT_ORDER_ID,
        "displayableOrderId": {**_LINE, "maxLength": 40, "description": "The order id your customer knows "
                                                                       "(on the packing slip)"},
        "displayableOrderDate": {**DATE_TIME_FILTER, "description": "When your customer ordered"},
        "displayableOrderComment": {**_LINE, "maxLength": 750, "description": "Printed on the packing slip"},
        "shippingSpeedCategory": {"type": "string", "enum": list(SPEEDS), "default": "Standard"},
        "fulfillmentPolicy": {"type": "string", "enum": list(POLICIES), "default": "FillOrKill"},
        "destinationAddress": {
            "type": "object", "additionalProperties": False,
            "required": ["name", "addressLine1", "postalCode", "countryCode"],
            "description": "Personal data: sealed apart (like Amazon's buyer data), sent to Amazon, never shown "
                           "back, deleted 30 days after the order ends",
            "properties": {
                "name": _LINE, "addressLine1": _LINE, "addressLine2": _LINE, "addressLine3": _LINE, "city": _LINE,
                "districtOrCounty": _LINE, "stateOrRegion": _LINE,
                "postalCode": {"type": "string", "pattern": "^[A-Za-z0-9 -]{2,12}$"},
                "countryCode": {"type": "string", "pattern": "^[A-Z]{2}$", "example": "GB"},
                "phone": {"type": "string", "pattern": r"^[0-9 +()./-]{3,24}$"}}},
        "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
            "type": "object", "additionalProperties": False, "required": ["sellerSku", "quantity"],
            "properties": {
                "sellerSku": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": r"^[^\u0000-\u001f]+$"},
                "sellerFulfillmentOrderItemId": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,50}$"},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 10000}}}},
    },
}

_ITEM = strict({"itemId": nullable(_TEXT), "sku": nullable(_TEXT), "quantity": {"type": "integer"},
                "cancelled": {"type": "integer"}, "unfulfillable": {"type": "integer"},
                "estimatedShipDate": nullable(_TEXT)})
_PACKAGE = strict({"packageNumber": nullable({"type": "integer"}), "carrierCode": nullable(_TEXT),
                   "trackingNumber": nullable(_TEXT), "estimatedArrivalDate": nullable(_TEXT)})
_SHIPMENT = strict({
    "amazonShipmentId": nullable(_TEXT),
    "status": nullable({**_TEXT, "description": "PENDING, SHIPPED, CANCELLED_BY_FULFILLER, CANCELLED_BY_SELLER"}),
    "fulfillmentCenterId": nullable(_TEXT), "shippingDate": nullable(_TEXT), "estimatedArrivalDate": nullable(_TEXT),
    "items": {"type": "array", "items": strict({"itemId": nullable(_TEXT), "sku": nullable(_TEXT),
                                               "quantity": {"type": "integer"},
                                               "packageNumber": nullable({"type": "integer"})})},
    "packages": {"type": "array", "items": _PACKAGE}})
_RETURN = strict({"returnItemId": nullable(_TEXT), "itemId": nullable(_TEXT), "amazonShipmentId": nullable(_TEXT),
                  "status": nullable(_TEXT), "reasonCode": nullable(_TEXT), "amazonReasonCode": nullable(_TEXT),
                  "condition": nullable(_TEXT), "changedAt": nullable(_TEXT)})

SCHEMAS = {
    "FulfillmentOrderRequest": REQUEST,
    "FulfillmentOrder": strict({
        "sellerFulfillmentOrderId": FULFILLMENT_ORDER_ID, "sellerId": _TEXT, "marketplaceId": nullable(_TEXT),
        "displayableOrderId": nullable(_TEXT), "shippingSpeedCategory": nullable(_TEXT),
        "state": {"type": "string", "enum": ["requested", "created", "refused"],
                  "description": "requested: on its way to Amazon; created: Amazon has it (see amazonStatus); "
                                 "refused: Amazon refused it (see amazonAnswer)"},
        "amazonStatus": nullable({**_TEXT, "description": "Amazon's FulfillmentOrderStatus: Received, Planning, "
                                                         "Processing, Complete, Cancelled, ..."}),
        "statusUpdatedAt": nullable(DATE_TIME), "requestedAt": DATE_TIME,
        "origin": {"type": "string", "enum": ["sellerops", "amazon"],
                   "description": "amazon: created elsewhere (Seller Central), followed from its notifications"},
        "cancellable": {"type": "boolean", "description": "Amazon still allows cancelling it"},
        "cancelRequestedAt": nullable(DATE_TIME),
        "amazonAnswer": nullable({**_TEXT, "description": "Amazon's refusal, as it said it"}),
        "items": {"type": "array", "items": _ITEM},
        "shipments": {"type": "array", "items": _SHIPMENT},
        "returns": {"type": "array", "items": _RETURN}}),
}

_ID_PARAM = [{"name": "fulfillmentOrderId", "in": "path", "required": True, "schema": FULFILLMENT_ORDER_ID},
             {"name": "sellerId", "in": "query", "schema": SELLER_ID,
              "description": "The order's seller (Amazon's ids are unique per seller): needed when the token may "
                             "see several sellers"}]

PATHS = {
    "/fulfillment-orders": {"post": {
        "operationId": "createFulfillmentOrder",
        "summary": "Send an order of another sales channel to Amazon's warehouses (Multi-Channel Fulfillment).",
        "description": "sellerops calls Amazon's createFulfillmentOrder once for it, then follows it from Amazon's "
                       "FULFILLMENT_ORDER_STATUS notifications. The same sellerFulfillmentOrderId with the same body "
                       "answers the same order (200); with another body, a 409, as for a displayableOrderDate in the "
                       "future or a marketplace the seller does not sell on. 201: a new order, on its way.",
        "parameters": [{"name": "Idempotency-Key", "in": "header",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:~-]{1,128}$"}}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/FulfillmentOrderRequest"}}}},
        "responses": {"201": json_response("The order, recorded and on its way to Amazon", _REF),
                      "200": json_response("The order already sent under this id", _REF),
                      **errors(400, 404, 409, 413, 415)}}},
    "/fulfillment-orders/{fulfillmentOrderId}": {
        **read({
            "operationId": "getFulfillmentOrder",
            "summary": "A fulfillment order: Amazon's status, shipments, packages and tracking, returns.",
            "parameters": _ID_PARAM,
            "responses": {"200": json_response("The fulfillment order", _REF), **errors(400, 404)}}),
        "delete": {
            "operationId": "cancelFulfillmentOrder",
            "summary": "Cancel a fulfillment order while Amazon allows (Received or Planning).",
            "description": "Queues Amazon's cancelFulfillmentOrder, once; asking again changes nothing. A 409 says "
                           "why not: Amazon is picking it already, it is not at Amazon yet, or Amazon refused it.",
            "parameters": _ID_PARAM,
            "responses": {"200": json_response("The order, its cancellation on its way", _REF),
                          **errors(400, 404, 409)}},
    },
}
