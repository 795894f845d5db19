"""The stock flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import (
    DATE_TIME,
    DATE_TIME_FILTER,
    IDEMPOTENCY_KEY,
    LIMIT,
    MARKETPLACE_ID,
    NEXT_TOKEN,
    SELLER_QUERY,
    errors,
    json_response,
    nullable,
    read,
    strict,
)
from chalicelib.flows.stock.rules import MAX_QUANTITY
from chalicelib.flows.stock.service import REASONS

SKU = {"type": "string", "minLength": 1, "maxLength": 40, "pattern": r"^[^\u0000-\u001f\u007f/]+$",
       "example": "MUG-BLUE-350"}
_NOTE = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^\u0000-\u001f]+$",
         "description": "What a person wants to remember about it (no personal data)"}
_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_QUANTITY}
_SELLER_PARAM = SELLER_QUERY
_SKU_PARAM = {"name": "sku", "in": "path", "required": True, "schema": SKU}
_IDEMPOTENCY = IDEMPOTENCY_KEY
_REF = {"$ref": "#/components/schemas/Stock"}

_ENTRY = strict({
    "entryId": {"type": "string"},
    "kind": {"type": "string", "enum": ["count", "adjustment", "reservation", "release", "consumption", "fba",
                                        "fba_drift"]},
    "at": DATE_TIME, "onHandDelta": {"type": "integer"}, "reservedDelta": {"type": "integer"},
    "cause": {"type": "object", "description": "What caused it: its type and reference (an order, a request, a "
                                               "file's line, a notification)"},
    "alreadyCounted": {"type": "boolean", "description": "A movement older than the latest count: recorded, "
                                                         "already in the count"},
    "staleCount": {"type": "boolean", "description": "A count older than the latest one: recorded, not applied"},
    "oversold": {"type": "boolean", "description": "A reservation that took units the shelf did not have"},
    "onHand": {"type": "integer"}, "reserved": {"type": "integer"}, "available": {"type": "integer"}})

_STOCK = strict({
    "sellerId": {"type": "string"}, "sku": {"type": "string"},
    "state": {"type": "string", "enum": ["in_stock", "out_of_stock", "discontinued", "invalid"]},
    "onHand": {"type": "integer"}, "reserved": {"type": "integer", "minimum": 0},
    "safetyBuffer": {"type": "integer", "minimum": 0},
    "available": {"type": "integer", "minimum": 0, "description": "on hand - reserved - buffer, never below zero: "
                                                                  "what Amazon may promise"},
    "oversold": {"type": "integer", "minimum": 0, "description": "Units reserved beyond what is on hand"},
    "reorderPoint": {"type": "integer", "minimum": 0}, "reorderPointIsDefault": {"type": "boolean"},
    "onReorderList": {"type": "boolean"}, "discontinued": {"type": "boolean"},
    "managed": {"type": "boolean", "description": "The warehouse counted or adjusted it: its quantity is sent to "
                                                  "Amazon"},
    "invalid": nullable({"type": "string", "description": "Amazon's message: it does not know the SKU"}),
    "fba": {"type": "array", "items": strict({
        "marketplaceId": MARKETPLACE_ID, "fulfillable": {"type": "integer"}, "inbound": {"type": "integer"},
        "reserved": {"type": "integer"}, "unfulfillable": {"type": "integer"}, "asOf": nullable(DATE_TIME)})},
    "amazon": strict({
        "target": nullable({"type": "integer", "description": "What Amazon should show (null: not managed)"}),
        "waitingPush": {"type": "boolean", "description": "Amazon's quantity is about to follow"},
        "lastPush": nullable(strict({
            "quantity": {"type": "integer"}, "at": DATE_TIME, "via": {"type": "string", "enum": ["patch", "feed"]},
            "status": {"type": "string", "enum": ["sent", "submitted", "refused"]},
            "reference": nullable({"type": "string"}), "message": nullable({"type": "string"})})),
        "reported": nullable(strict({"quantity": {"type": "integer"}, "at": DATE_TIME})),
        "corrections": {"type": "integer", "description": "Times Amazon showed another quantity than ours"}}),
    "fbaDrift": {"type": "integer", "description": "FBA quantities the reconciliation corrected"},
    "latestEntries": {"type": "array", "items": _ENTRY}})

_APPLIED = strict({"applied": {"type": "boolean", "description": "false: the same movement was applied before"},
                   "entries": {"type": "array", "items": _ENTRY}, "stock": _REF})

SCHEMAS = {
    "Stock": _STOCK,
    "StockCount": {"type": "object", "additionalProperties": False, "required": ["quantity"], "properties": {
        "quantity": _COUNT, "countedAt": {**DATE_TIME_FILTER, "description": "When the shelf was counted "
                                                                             "(default now; not in the future)"},
        "note": _NOTE}},
    "StockAdjustment": {"type": "object", "additionalProperties": False, "required": ["quantity", "reason"],
                        "properties": {
                            "quantity": {"type": "integer", "minimum": -MAX_QUANTITY, "maximum": MAX_QUANTITY,
                                         "description": "Units added (or removed, below 0); not 0 (a 409)"},
                            "reason": {"type": "string", "enum": list(REASONS)},
                            "at": {**DATE_TIME_FILTER, "description": "When it happened (default now)"},
                            "note": _NOTE}},
    "StockSettings": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
        "safetyBuffer": _COUNT, "reorderPoint": nullable(_COUNT), "discontinued": {"type": "boolean"}}},
}

_ONE = [_SKU_PARAM, _SELLER_PARAM]

PATHS = {
    "/stock": read({
        "operationId": "listStock",
        "summary": "A seller's SKUs, by SKU; `state` keeps those out of stock, low, on the reorder list, oversold, "
                   "invalid or discontinued.",
        "description": "low: on the reorder list with units still available; reorder: on hand less reserved at or "
                       "below the reorder point (out of stock included); oversold: more reserved than on hand. A "
                       "page may hold fewer items than limit and still have a nextToken.",
        "parameters": [_SELLER_PARAM,
                       {"name": "state", "in": "query", "schema": {"type": "string", "enum": [
                           "in", "out", "low", "oversold", "invalid", "reorder", "discontinued"]}},
                       {"name": "limit", "in": "query", "schema": LIMIT},
                       {"name": "nextToken", "in": "query", "schema": NEXT_TOKEN}],
        "responses": {"200": json_response("A page of SKUs", strict({
            "sellerId": {"type": "string"}, "state": nullable({"type": "string"}),
            "items": {"type": "array", "items": _REF}, "nextToken": nullable({"type": "string"})})),
            **errors(400, 404, 409)}}),
    "/stock/import": {"post": {
        "operationId": "importStockCounts",
        "summary": "Set the counts of a warehouse's CSV export, one row per SKU.",
        "description": "Columns by header name, in any order: sku (or seller_sku), on_hand (or quantity, count), and "
                       "optionally counted_at; comma, semicolon or tab separated, UTF-8, up to 2,000 rows. Every row "
                       "is checked before any is applied: a file with a problem applies nothing, and the answer "
                       "lists each problem with its line and column. The same file imported again changes nothing.",
        "parameters": [_SELLER_PARAM, _IDEMPOTENCY],
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string", "example": (
            "sku,on_hand\nMUG-BLUE-350,42\nMUG-RED-350,0\n")}}}},
        "responses": {"200": json_response("What the file applied", strict({
            "file": {"type": "string", "description": "The file's fingerprint"},
            "rows": {"type": "integer"}, "applied": {"type": "integer"},
            "alreadyApplied": {"type": "integer", "description": "Rows applied by an earlier import of the same "
                                                                 "file"}})),
            **errors(400, 404, 409, 413, 415)}}},
    "/stock/{sku}": {
        **read({
            "operationId": "getStock",
            "summary": "A SKU's balances, state, what Amazon was sent and reports, and its latest ledger entries.",
            "parameters": _ONE,
            "responses": {"200": json_response("The SKU's stock", _REF), **errors(400, 404, 409)}}),
        "put": {
            "operationId": "countStock",
            "summary": "The shelf holds `quantity`: a count, at countedAt (default now).",
            "description": "On hand becomes the count plus the movements recorded after its time. A count older "
                           "than the latest count is recorded and not applied; one more than 24 h older than the "
                           "latest movement is a 409 (count again).",
            "parameters": [*_ONE, _IDEMPOTENCY],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/StockCount"}}}},
            "responses": {"200": json_response("The count's entry and the balances after it", _APPLIED),
                          **errors(400, 404, 409, 413, 415)}},
        "patch": {
            "operationId": "configureStock",
            "summary": "The SKU's safety buffer, reorder point (null: the default) or discontinued flag.",
            "description": "A discontinued SKU shows 0 on Amazon whatever is on hand.",
            "parameters": [*_ONE, _IDEMPOTENCY],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/StockSettings"}}}},
            "responses": {"200": json_response("The SKU after the change", _APPLIED),
                          **errors(400, 404, 409, 413, 415)}},
    },
    "/stock/{sku}/adjustments": {"post": {
        "operationId": "adjustStock",
        "summary": "Units added to or removed from the shelf, with a reason.",
        "parameters": [*_ONE, _IDEMPOTENCY],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/StockAdjustment"}}}},
        "responses": {"200": json_response("The adjustment's entry and the balances after it", _APPLIED),
                      **errors(400, 404, 409, 413, 415)}}},
}
