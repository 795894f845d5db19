"""The shipments flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import (
    DATE_TIME,
    DATE_TIME_FILTER,
    LIMIT,
    NEXT_TOKEN,
    ORDER_ID,
    SELLER_ID,
    errors,
    json_response,
    nullable,
    read,
    strict,
)

# An ISO 8601 duration of days and/or a time part (a T is followed by at least one of H, M, S).
_TIME_PART = r"T(?:[0-9]{1,3}H(?:[0-9]{1,5}M)?(?:[0-9]{1,7}S)?|[0-9]{1,5}M(?:[0-9]{1,7}S)?|[0-9]{1,7}S)"
DURATION = rf"^P(?:[0-9]{{1,2}}D(?:{_TIME_PART})?|{_TIME_PART})$"
SHIPMENT_ID = {"type": "string", "pattern": r"^[A-Za-z0-9-]{5,40}\.[1-9][0-9]{0,3}$",
               "example": "028-1234567-1234567.1", "description": "<orderId>.<number>"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": r"^[^\u0000-\u001f]+$"}
_REF = {"$ref": "#/components/schemas/Shipment"}

REQUEST = {
    "type": "object", "additionalProperties": False,
    "required": ["carrierCode", "trackingNumber", "shipDate", "items"],
    "properties": {
        "carrierCode": {**_TEXT, "description": "Amazon's carrier code (e.g. UPS, DHL, Royal Mail), or Other",
                        "example": "DHL"},
        "carrierName": {**_TEXT, "description": "The carrier's name: required when carrierCode is Other"},
        "trackingNumber": {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[A-Za-z0-9 ._/-]+$",
                           "example": "00340434161234567890"},
        "shipDate": {**DATE_TIME_FILTER, "description": "When the parcel left (not in the future, not before the "
                                                        "order was placed)"},
        "shippingMethod": {**_TEXT, "example": "Standard"},
        "shipFromSupplySourceId": {**_TEXT},
        "items": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
            "type": "object", "additionalProperties": False, "required": ["quantity"],
            # With quantity, exactly one of orderItemId and sku.
            "minProperties": 2, "maxProperties": 2,
            "description": "names the item by orderItemId or by sku, one of them, with its quantity",
            "properties": {
                "orderItemId": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,50}$"},
                "sku": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": r"^[^\u0000-\u001f]+$"},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 10000}}}},
    },
}

_LINE = strict({"orderItemId": {"type": "string"}, "sku": nullable({"type": "string"}),
                "quantity": {"type": "integer", "minimum": 1}})

_QUANTITIES = strict({
    "orderItemId": {"type": "string"}, "sku": nullable({"type": "string"}),
    "ordered": {"type": "integer", "minimum": 0}, "shipped": {"type": "integer", "minimum": 0},
    "unshipped": {"type": "integer", "minimum": 0}})

SCHEMAS = {
    "ShipmentRequest": REQUEST,
    "Shipment": strict({
        "shipmentId": SHIPMENT_ID, "orderId": ORDER_ID, "sellerId": {"type": "string"},
        "packageReferenceId": {"type": "string", "description": "What Amazon knows the package by"},
        "carrierCode": {"type": "string"}, "carrierName": nullable({"type": "string"}),
        "trackingNumber": {"type": "string"}, "shipDate": DATE_TIME, "shippingMethod": nullable({"type": "string"}),
        "shipFromSupplySourceId": nullable({"type": "string"}),
        "items": {"type": "array", "items": _LINE},
        "recordedAt": DATE_TIME,
        "confirmation": strict({
            "state": {"type": "string", "enum": ["pending", "confirmed", "rejected"],
                      "description": "pending: on its way to Amazon; confirmed: Amazon has it; rejected: Amazon "
                                     "refused it (a person must look)"},
            "answeredAt": nullable(DATE_TIME),
            "amazonAnswer": nullable({"type": "string", "description": "Amazon's refusal, as it said it"}),
            "explanation": nullable({"type": "string", "description": "What the refusal means, in plain words"}),
        })}),
    "OrderShipments": strict({
        "orderId": ORDER_ID,
        "items": {"type": "array", "items": _QUANTITIES},
        "shipments": {"type": "array", "items": _REF}}),
}

_ORDER_PARAM = [{"name": "orderId", "in": "path", "required": True, "schema": ORDER_ID}]

PATHS = {
    "/orders/{orderId}/shipments": {
        "post": {
            "operationId": "recordShipment",
            "summary": "Record a package the warehouse shipped; sellerops confirms it to Amazon, once.",
            "description": "Checked against the order first: an unknown order is a 404; an unknown item, more "
                           "units than are left to ship (counting the shipments already recorded), a cancelled, "
                           "pending or FBA order, a ship date in the future or before the purchase is a 409, "
                           "carrierCode Other without carrierName a 400; nothing is recorded then. Send an "
                           "Idempotency-Key to retry safely: the same key and body return the same shipment, "
                           "another body under it is a 409.",
            "parameters": [*_ORDER_PARAM,
                           {"name": "Idempotency-Key", "in": "header", "schema": {
                               "type": "string", "pattern": "^[A-Za-z0-9._:~-]{1,128}$"},
                            "description": "Your id for this request: the same key and body return the same "
                                           "shipment, never a second one"}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ShipmentRequest"}}}},
            "responses": {"200": json_response("The shipment recorded, its confirmation pending", _REF),
                          **errors(400, 404, 409, 413, 415)}},
        **read({
            "operationId": "listOrderShipments",
            "summary": "An order's shipments and, per item, what is shipped and what is left.",
            "parameters": _ORDER_PARAM,
            "responses": {"200": json_response("The order's shipments",
                                               {"$ref": "#/components/schemas/OrderShipments"}),
                          **errors(400, 404)}}),
    },
    "/shipments/import": {"post": {
        "operationId": "importShipments",
        "summary": "Record the packages of a warehouse's CSV export, one row per package line.",
        "description": "Columns by header name, in any order (order_id, order_item_id or sku, quantity, carrier_code, "
                       "carrier_name, tracking_number, ship_date, shipping_method, ship_from_supply_source_id; "
                       "`Order ID` and `orderId` work too), comma, semicolon or tab separated, UTF-8. Rows with the "
                       "same order and tracking number are one package. Every package is checked against its "
                       "order (counting the file's earlier packages) before any is recorded: a file with a "
                       "problem applies nothing, and the answer lists each problem with its line and column "
                       "(400 a row is wrong in itself, 409 rows that do not fit their orders). A package already "
                       "recorded (same order and tracking number) is not recorded again: the same file imported "
                       "twice changes nothing.",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {
            "type": "string", "pattern": "^[A-Za-z0-9._:~-]{1,128}$"}}],
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string", "example": (
            "order_id,order_item_id,quantity,carrier_code,tracking_number,ship_date\n"
            "028-1234567-1234567,12345678901234,1,DHL,00340434161234567890,2026-11-20T14:30:00Z\n")}}}},
        "responses": {"200": json_response("What the file recorded", strict({
            "applied": {"type": "integer", "minimum": 0},
            "alreadyRecorded": {"type": "integer", "minimum": 0,
                                "description": "Packages of the file recorded before (not recorded again)"},
            "shipments": {"type": "array", "items": SHIPMENT_ID}})),
            **errors(400, 409, 413, 415)}},
    },
    "/shipments": read({
        "operationId": "listShipments",
        "summary": "A seller's shipments, those of the most recently changed orders first.",
        "description": "status and since filter within each page: a page may hold fewer shipments than limit, "
                       "even none, and still have a nextToken.",
        "parameters": [
            {"name": "sellerId", "in": "query", "required": True, "schema": SELLER_ID},
            {"name": "status", "in": "query", "schema": {"type": "string",
                                                         "enum": ["pending", "confirmed", "rejected"]}},
            {"name": "since", "in": "query", "schema": DATE_TIME_FILTER,
             "description": "Only shipments recorded or answered by Amazon at or after this time"},
            {"name": "limit", "in": "query", "schema": LIMIT},
            {"name": "nextToken", "in": "query", "schema": NEXT_TOKEN}],
        "responses": {"200": json_response("A page of shipments", strict({
            "shipments": {"type": "array", "items": _REF}, "nextToken": nullable({"type": "string"})})),
            **errors(400, 404)}}),
    "/shipments/due": read({
        "operationId": "listDueShipments",
        "summary": "Merchant orders Amazon waits for, whose latest ship date is within `within` or past.",
        "description": "The most urgent first (late ones first), with what is left to ship per item (counting the "
                       "shipments recorded) and the state of their confirmations. Amazon counts a confirmation "
                       "after the latest ship date in the Late Shipment Rate. The same orders feed /health "
                       "(flows.shipments.due and late), the ShipByDue and ShipByLate metrics and the digest the "
                       "alert_ship_by schedule sends to the alerts topic.",
        "parameters": [
            {"name": "sellerId", "in": "query", "required": True, "schema": SELLER_ID},
            {"name": "within", "in": "query", "schema": {
                "type": "string", "pattern": DURATION, "example": "PT24H"},
             "description": "An ISO 8601 duration up to P30D (days, hours, minutes, seconds; longer is a 409); "
                            "default: the deployment's alert window (SHIP_BY_ALERT_WITHIN, PT12H)"},
            {"name": "limit", "in": "query", "schema": LIMIT},
            {"name": "nextToken", "in": "query", "schema": NEXT_TOKEN}],
        "responses": {"200": json_response("A page of orders due to ship", strict({
            "asOf": DATE_TIME, "within": {"type": "string"},
            "orders": {"type": "array", "items": strict({
                "orderId": ORDER_ID, "sellerId": {"type": "string"}, "marketplaceId": nullable({"type": "string"}),
                "status": {"type": "string"}, "latestShipDate": DATE_TIME,
                "late": {"type": "boolean", "description": "The latest ship date has passed"},
                "shipBy": {"type": "string", "example": "3 h 05 min from now"},
                "items": {"type": "array", "items": _QUANTITIES},
                "shipments": strict({state: {"type": "integer", "minimum": 0}
                                     for state in ("pending", "confirmed", "rejected")}),
                "alerted": {"type": "array", "items": {"type": "string", "enum": ["due", "late"]},
                            "description": "The ship-by alerts already sent for it"}})},
            "nextToken": nullable({"type": "string"})})),
            **errors(400, 404, 409)}}),
    "/shipments/{shipmentId}": read({
        "operationId": "getShipment",
        "summary": "One shipment and where its confirmation to Amazon stands.",
        "parameters": [{"name": "shipmentId", "in": "path", "required": True, "schema": SHIPMENT_ID}],
        "responses": {"200": json_response("The shipment", _REF), **errors(400, 404)}}),
}
