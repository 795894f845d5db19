"""The settlements flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import (
    DATE_TIME,
    IDEMPOTENCY_KEY,
    MONEY_REF,
    SELLER_QUERY,
    errors,
    json_response,
    nullable,
    read,
    strict,
)
from chalicelib.flows.settlements.exports import FORMATS
from chalicelib.flows.settlements.rules import CATEGORIES
from chalicelib.flows.settlements.store import STATUSES

_AMOUNT = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "-4.50",
           "description": "Exact decimal, as a string: never a float"}
_SETTLEMENT_ID = {"name": "settlementId", "in": "path", "required": True, "schema": {
    "type": "string", "pattern": "^[0-9A-Za-z-]{1,40}$", "example": "11795245201"}}
_WORD = {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"^[^\u0000-\u001f\u007f]+$"}
_CODE = {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"^[^\u0000-\u001f\u007f]+$",
         "description": "Amazon's word, or * for any"}
_ACCOUNT_PROPERTIES: dict[str, object] = {
    "account": {"type": "string", "pattern": "^[0-9A-Za-z.:_-]{1,20}$", "example": "622200",
                "description": "The account's code in your chart (FEC CompteNum, Xero AccountCode)"},
    "name": {**_WORD, "example": "Amazon selling fees", "description": "Its name (QuickBooks Online imports by name)"},
    "taxCode": {**_WORD, "example": "No VAT", "description": "Xero's TaxRate name, or your tax code (default "
                                                             "No VAT: VAT is posted on its own lines)"}}
_ACCOUNT = {"type": "object", "additionalProperties": False, "required": ["account", "name"],
            "properties": _ACCOUNT_PROPERTIES}
_RULE = {"type": "object", "additionalProperties": False, "required": ["account", "name"], "properties": {
    "transactionType": {**_CODE, "example": "Order"}, "amountType": {**_CODE, "example": "ItemFees"},
    "amountDescription": {**_CODE, "example": "Commission"}, **_ACCOUNT_PROPERTIES}}
_MAPPING_OUT = strict({
    "sellerId": {"type": "string"},
    "rules": {"type": "array", "items": strict({
        "transactionType": {"type": "string"}, "amountType": {"type": "string"},
        "amountDescription": {"type": "string"}, "account": {"type": "string"}, "name": {"type": "string"},
        "taxCode": {"type": "string"}})},
    "replaceDefaults": {"type": "boolean"},
    "clearing": strict({"account": {"type": "string"}, "name": {"type": "string"}, "taxCode": {"type": "string"}}),
    "carried": strict({"account": {"type": "string"}, "name": {"type": "string"}, "taxCode": {"type": "string"}}),
    "rounding": strict({"account": {"type": "string"}, "name": {"type": "string"}, "taxCode": {"type": "string"}}),
    "journalCode": {"type": "string"}, "journalName": {"type": "string"}, "updatedAt": nullable(DATE_TIME),
    "reconciling": {"type": "integer", "description": "Settlements reconciled again under the new mapping"}},
    optional=["reconciling"])

_PERIOD = strict({"start": DATE_TIME, "end": DATE_TIME})
_SUMMARY_PROPERTIES = {
    "settlementId": {"type": "string"}, "sellerId": {"type": "string"}, "period": _PERIOD,
    "depositDate": DATE_TIME, "deposit": MONEY_REF,
    "status": {"type": "string", "enum": list(STATUSES), "description": (
        "imported: archived, being reconciled; posted: rows sum to the deposit, every code mapped, journal final; "
        "balanced: rows sum to the deposit but some codes have no account (PUT /accounts/mapping); blocked: a bad "
        "row or rows that do not sum to the deposit (reasons say which)")},
    "reasons": {"type": "array", "items": {"type": "string"}},
    "rows": nullable({"type": "integer"}), "orders": nullable({"type": "integer"}),
    "variances": nullable({"type": "integer", "description": "Orders whose money differs from their documents"}),
    "source": {"type": "string", "enum": ["report", "upload"]}, "reportId": nullable({"type": "string"}),
    "importedAt": DATE_TIME, "postedAt": nullable(DATE_TIME)}
_LINE = strict({"account": {"type": "string"}, "name": {"type": "string"}, "taxCode": {"type": "string"},
                "label": {"type": "string"}, "debit": _AMOUNT, "credit": _AMOUNT})
_JOURNAL = strict({
    "currency": {"type": "string"}, "balanced": {"type": "boolean"},
    "rounding": {**_AMOUNT, "description": "Zero whenever the rows sum to the deposit; else the difference"},
    "unmapped": {"type": "array", "items": strict({
        "transactionType": {"type": "string"}, "amountType": {"type": "string"},
        "amountDescription": {"type": "string"}, "amount": _AMOUNT})},
    "entries": {"type": "array", "items": strict({
        "index": {"type": "integer"},
        "number": nullable({"type": "integer", "description": "In the seller's journal once posted: one sequence "
                                                              "without a gap (FEC EcritureNum)"}),
        "date": {"type": "string", "format": "date"}, "label": {"type": "string"},
        "debits": _AMOUNT, "credits": _AMOUNT, "balanced": {"type": "boolean"},
        "lines": {"type": "array", "items": _LINE}})}})
_VARIANCE = strict({"orderId": {"type": "string"}, "what": {"type": "string", "enum": ["sales", "refunds"]},
                    "settled": _AMOUNT, "documented": _AMOUNT, "difference": _AMOUNT,
                    "documents": {"type": "array", "items": {"type": "string"}}, "reason": {"type": "string"}})
_SETTLEMENT = strict({
    **_SUMMARY_PROPERTIES,
    "totals": {"type": "object", "description": f"Per category ({', '.join(CATEGORIES)})",
               "additionalProperties": _AMOUNT},
    "control": nullable(strict({"currency": {"type": "string"}, "deposit": _AMOUNT, "rowsTotal": _AMOUNT,
                                "difference": _AMOUNT, "holds": {"type": "boolean"},
                                "reason": nullable({"type": "string"})})),
    "postedDates": nullable(strict({"first": nullable({"type": "string"}), "last": nullable({"type": "string"})})),
    "problem": nullable(strict({"line": {"type": "integer"}, "column": nullable({"type": "string"}),
                                "value": nullable({"type": "string"}), "message": {"type": "string"}})),
    "variancesShown": {"type": "array", "items": _VARIANCE, "description": "The first 200"},
    "journal": nullable(_JOURNAL),
    "file": strict({"sha256": {"type": "string"}, "bytes": {"type": "integer"}}),
    "reconciledAt": nullable(DATE_TIME)})

PAYMENTS = strict({
    "paid": {"type": "boolean", "description": "Amazon paid (or charged) something for the order in a settlement"},
    "net": nullable(_AMOUNT), "currency": nullable({"type": "string"}),
    "settlements": {"type": "array", "items": strict({
        "settlementId": {"type": "string"}, "depositDate": nullable(DATE_TIME), "currency": {"type": "string"},
        "sales": _AMOUNT, "refunds": _AMOUNT, "fees": _AMOUNT, "withheldTax": _AMOUNT, "other": _AMOUNT,
        "net": _AMOUNT})}})

SCHEMAS = {
    "Settlement": _SETTLEMENT,
    "AccountMapping": {"type": "object", "additionalProperties": False, "properties": {
        "rules": {"type": "array", "maxItems": 500, "items": _RULE,
                  "description": "The most precise rule wins: (t, a, d), (t, a, *), (*, a, d), (*, a, *), (*, *, d), "
                                 "(t, *, *); a rule names at least one of the three"},
        "replaceDefaults": {"type": "boolean", "description": "true: only these rules (default: these over the "
                                                              "defaults)"},
        "clearing": _ACCOUNT, "carried": _ACCOUNT, "rounding": _ACCOUNT,
        "journalCode": {"type": "string", "pattern": "^[0-9A-Za-z]{1,10}$"},
        "journalName": {**_WORD, "maxLength": 100},
        "updatedAt": nullable(DATE_TIME)}},
    "OrderPayments": PAYMENTS,
}

_ONE = [_SETTLEMENT_ID, SELLER_QUERY]

PATHS = {
    "/settlements": read({
        "operationId": "listSettlements",
        "summary": "A seller's settlements (Amazon's payouts), newest first, and what is missing.",
        "description": "from/to keep the settlements whose period overlaps them. gaps: a period no settlement covers, "
                       "or a report Amazon listed that was not imported within a day.",
        "parameters": [SELLER_QUERY,
                       {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
                       {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(STATUSES)}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                   "maximum": 500, "default": 50}}],
        "responses": {"200": json_response("The settlements", strict({
            "sellerId": {"type": "string"}, "settlements": {"type": "array", "items": strict(_SUMMARY_PROPERTIES)},
            "gaps": {"type": "array", "items": {"type": "object"}}})), **errors(400, 404, 409)}}),
    "/settlements/import": {"post": {
        "operationId": "importSettlement",
        "summary": "A settlement file downloaded from Seller Central (the flat file V2, tab separated).",
        "description": "Columns by header name (settlement-id or settlement id), US or EU dates and decimals. Every "
                       "row is checked first: a bad row is a 400 naming its line, column and value, and nothing is "
                       "imported. The same settlement imported again changes nothing (200); a new one is "
                       "reconciled on the work queue (202): follow it with GET /settlements/{settlementId}.",
        "parameters": [SELLER_QUERY, IDEMPOTENCY_KEY],
        "requestBody": {"required": True, "content": {"text/tab-separated-values": {"schema": {"type": "string"}}}},
        "responses": {
            "200": json_response("Imported before: nothing changed", {"$ref": "#/components/schemas/Imported"}),
            "202": json_response("Imported: being reconciled", {"$ref": "#/components/schemas/Imported"}),
            **errors(400, 404, 409, 413, 415)}}},
    "/settlements/{settlementId}": read({
        "operationId": "getSettlement",
        "summary": "A settlement: totals by category, control total, variances against the documents, journal.",
        "parameters": _ONE,
        "responses": {"200": json_response("The settlement", {"$ref": "#/components/schemas/Settlement"}),
                      **errors(400, 404, 409)}}),
    "/settlements/{settlementId}/export": read({
        "operationId": "exportSettlement",
        "summary": "The settlement's journal as a file to import: csv, xero (manual journal), qbo (journal "
                   "entries) or fec (Fichier des Écritures Comptables, euros only).",
        "description": "A posted settlement only (another is a 409 saying why). Lines of zero are left out of the "
                       "imports; the plain csv keeps the rounding line.",
        "parameters": [*_ONE, {"name": "format", "in": "query", "schema": {"type": "string", "enum": list(FORMATS),
                                                                           "default": "csv"}}],
        "responses": {"200": {"description": "The file (Content-Disposition names it)", "content": {
            "text/csv; charset=utf-8": {"schema": {"type": "string"}},
            "text/plain; charset=utf-8": {"schema": {"type": "string"}}}}, **errors(400, 404, 409)}}),
    "/accounts/mapping": {
        **read({
            "operationId": "getAccountMapping",
            "summary": "The seller's mapping of Amazon's codes to accounts (the defaults until one is set).",
            "parameters": [SELLER_QUERY],
            "responses": {"200": json_response("The mapping", _MAPPING_OUT), **errors(400, 404, 409)}}),
        "put": {
            "operationId": "putAccountMapping",
            "summary": "Map Amazon's (transaction type, amount type, description) to accounts and tax codes.",
            "description": "Settlements waiting for a code's account are reconciled again. A posted settlement's "
                           "journal does not change. A rule that names none of the three words (all *) is a 409: "
                           "a catch-all would hide Amazon's new codes.",
            "parameters": [SELLER_QUERY, IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/AccountMapping"}}}},
            "responses": {"200": json_response("The mapping as saved", _MAPPING_OUT),
                          **errors(400, 404, 409, 413, 415)}}},
}

SCHEMAS["Imported"] = strict({"settlementId": {"type": "string"}, "imported": {"type": "boolean"},
                              "status": {"type": "string", "enum": list(STATUSES)}, "message": {"type": "string"}})
