"""The invoices flow's part of the OpenAPI document (served at /openapi.json)."""
from chalicelib.core.openapi import (
    DATE_TIME,
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

_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
# A calendar date of 2000–2199 (every month its own days; 29 February in any year).
DATE_PATTERN = (r"^2[01][0-9]{2}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
                r"|(?:0[13578]|1[02])-31|02-29)$")
_COUNTRY = {"type": "string", "pattern": "^[A-Z]{2}$", "example": "FR"}
NUMBER = {"type": "string", "pattern": "^[A-Z0-9-]{3,40}$", "example": "INV-2026-000042"}
_DATE = {"type": "string", "format": "date", "example": "2026-11-20"}
_AMOUNT = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "example": "106.63"}
_STRING = {"type": "string"}

PROFILE = {
    "type": "object", "additionalProperties": False, "required": ["legalName", "address", "vatNumbers"],
    "description": "What every document of the seller prints. A seller established in France also gives siren, "
                   "legalForm, shareCapital and rcs.",
    "properties": {
        "legalName": {**_TEXT, "example": "Kestrelwood SAS"},
        "address": {"type": "object", "additionalProperties": False,
                    "required": ["line1", "postalCode", "city", "countryCode"],
                    "properties": {"line1": _TEXT, "line2": {"type": "string", "maxLength": 200},
                                   "postalCode": {"type": "string", "minLength": 1, "maxLength": 20},
                                   "city": {"type": "string", "minLength": 1, "maxLength": 100},
                                   "countryCode": _COUNTRY}},
        "vatNumbers": {"type": "object", "minProperties": 1, "maxProperties": 30,
                       "additionalProperties": {"type": "string", "minLength": 4, "maxLength": 20},
                       "description": "The seller's VAT number in each country where it is registered",
                       "example": {"FR": "FR40303265045", "DE": "DE811907980"}},
        "siren": {"type": "string", "pattern": "^[0-9 ]{9,11}$"},
        "siret": {"type": "string", "pattern": "^[0-9 ]{14,17}$"},
        "legalForm": {"type": "string", "maxLength": 60, "example": "SAS"},
        "shareCapital": {"type": "string", "maxLength": 60, "example": "50 000 €"},
        "rcs": {"type": "string", "maxLength": 100, "example": "Lyon B 303 265 045"},
        "email": {"type": "string", "maxLength": 254},
        "logoPng": {"type": "string", "maxLength": 300000, "description": "A PNG image, base64 (at most 200 KB)"},
        "vcsMarketplaces": {"type": "array", "maxItems": 30, "items": {"type": "string", "pattern": "^[A-Z0-9]{2,20}$"},
                            "description": "Marketplaces where Amazon's VAT Calculation Service issues the invoices: "
                                           "sellerops issues none there"},
        "series": {"type": "object", "additionalProperties": False, "properties": {
            "scope": {"type": "string", "enum": ["single", "year", "country", "year-country"],
                      "description": "One continuous series for all, per year of issue, per country of supply, "
                                     "or per both (default: year)"},
            "invoicePrefix": {"type": "string", "pattern": "^[A-Z0-9]{1,8}$", "example": "INV"},
            "creditNotePrefix": {"type": "string", "pattern": "^[A-Z0-9]{1,8}$", "example": "CN"},
            "creditNotes": {"type": "string", "enum": ["own", "same"],
                            "description": "Credit notes in their own series (default) or in the invoices'"},
            "digits": {"type": "integer", "minimum": 3, "maximum": 10},
            "start": {"type": "integer", "minimum": 1, "maximum": 999999999,
                      "description": "The first sequence number (a series carried over from another tool)"}}},
        "footer": {"type": "array", "maxItems": 6, "items": {"type": "string", "maxLength": 300}},
        "latePaymentRate": {"type": "string", "maxLength": 200,
                            "description": "France, business buyers: the late-payment penalty rate printed"},
        "legalPeriodYears": {"type": "integer", "minimum": 6, "maximum": 30,
                             "description": "How long the PDFs are locked (default 10)"},
    },
}

_PROFILE_ANSWER = strict({"sellerId": _STRING, "profile": {"type": "object"}})

DOCUMENT = strict({
    "number": NUMBER, "type": {"type": "string", "enum": ["invoice", "creditNote"]},
    "corrects": nullable({**NUMBER, "description": "A credit note: the invoice it corrects"}),
    "sellerId": _STRING, "orderId": ORDER_ID, "marketplaceId": nullable(_STRING),
    "source": {"type": "string", "description": "What it invoices: shipment#<n> (a merchant package), amazon#<n> "
                                                "(what Amazon shipped), refund#<transaction>"},
    "issueDate": _DATE, "supplyDate": _DATE, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
    "language": {"type": "string", "enum": ["en", "fr", "de", "it", "es"]}, "countryOfSupply": _STRING,
    "total": _AMOUNT, "totalNet": _AMOUNT, "vatTotal": _AMOUNT,
    "vatByRate": {"type": "array", "items": strict({"rate": nullable(_STRING), "taxable": _AMOUNT, "vat": _AMOUNT})},
    "lines": {"type": "array", "items": strict({
        "kind": {"type": "string", "enum": ["item", "shipping", "gift_wrap", "promotion"]},
        "description": _STRING, "sku": nullable(_STRING), "asin": nullable(_STRING),
        "quantity": {"type": "integer"}, "unitNet": _STRING, "rate": nullable(_STRING), "net": _AMOUNT,
        "vat": _AMOUNT})},
    "mentions": {"type": "array", "items": _STRING},
    "state": {"type": "string", "enum": ["issued", "rendered"],
              "description": "issued: numbered, its PDF being drawn; rendered: its PDF archived"},
    "attention": nullable({"type": "string", "description": "Why a person must look at it (it is not uploaded "
                                                            "until then)"}),
    "uploadDeadline": nullable({**DATE_TIME, "description": "Amazon wants it by then: the end of the next "
                                                            "business day after the shipment or refund"}),
    "late": {"type": "boolean", "description": "Not accepted by Amazon by its deadline"},
    "upload": strict({
        "status": {"type": "string", "enum": ["not sent", "requested", "held", "submitted", "accepted", "rejected"],
                   "description": "held: not sent by itself (a person must look, or Amazon's VCS issues the "
                                  "invoices there); requested: sent again, on its way"},
        "attempt": nullable({"type": "integer"}), "feedId": nullable(_STRING),
        "submittedAt": nullable(_STRING), "answeredAt": nullable(_STRING),
        "amazonCode": nullable({**_STRING, "description": "Amazon's error code (79513, 79525, ...)"}),
        "amazonMessage": nullable({**_STRING, "description": "What Amazon's processing report said"}),
        "explanation": nullable({**_STRING, "description": "What it means and what to do, in plain words"})}),
    "pdfUrl": nullable({"type": "string", "description": "A presigned link to the PDF, valid 5 minutes"}),
})

_SELLER_PARAM = [{"name": "sellerId", "in": "path", "required": True, "schema": SELLER_ID}]
_DOC_REF = {"$ref": "#/components/schemas/Document"}

PATHS = {
    "/sellers/{sellerId}/profile": {
        **read({"operationId": "getSellerProfile", "summary": "The seller's invoicing profile.",
                "parameters": _SELLER_PARAM,
                "responses": {"200": json_response("The profile", _PROFILE_ANSWER), **errors(400, 404)}}),
        "put": {"operationId": "putSellerProfile",
                "summary": "Set the seller's invoicing profile; the orders that waited for it are invoiced.",
                "parameters": _SELLER_PARAM,
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SellerProfile"}}}},
                "description": "A body the schema refuses is a 400; a profile that cannot be used (a VAT number "
                               "of the wrong country, a SIREN that fails its check, a French seller without its "
                               "identifiers...) is a 409 that says which field and why.",
                "responses": {"200": json_response("The profile as stored", _PROFILE_ANSWER),
                              **errors(400, 404, 409, 413, 415)}},
    },
    "/orders/{orderId}/invoices": read({
        "operationId": "listOrderInvoices", "summary": "An order's invoices and credit notes.",
        "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": ORDER_ID}],
        "responses": {"200": json_response("The order's documents", strict({
            "orderId": ORDER_ID, "state": _STRING, "documents": {"type": "array", "items": _DOC_REF}})),
            **errors(400, 404)}}),
    "/invoices": read({
        "operationId": "listInvoices", "summary": "A seller's documents, the latest issued first.",
        "description": "status and type filter within each page: a page may hold fewer than limit, even none, and "
                       "still have a nextToken.",
        "parameters": [
            {"name": "sellerId", "in": "query", "required": True, "schema": SELLER_ID},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": [
                "issued", "rendered", "not sent", "held", "submitted", "accepted", "rejected", "late"]},
             "description": "issued/rendered: the PDF's state; the others: the upload's (late: not accepted by "
                            "its deadline)"},
            {"name": "type", "in": "query", "schema": {"type": "string", "enum": ["invoice", "creditNote"]}},
            {"name": "since", "in": "query", "schema": {"type": "string", "pattern": DATE_PATTERN,
                                                        "example": "2026-11-01"},
             "description": "Issued on or after this date (29 February of a common year is a 409)"},
            {"name": "limit", "in": "query", "schema": LIMIT},
            {"name": "nextToken", "in": "query", "schema": NEXT_TOKEN}],
        "responses": {"200": json_response("A page of documents", strict({
            "documents": {"type": "array", "items": _DOC_REF}, "nextToken": nullable(_STRING)})),
            **errors(400, 404, 409)}}),
    "/invoices/{number}": read({
        "operationId": "getInvoice", "summary": "One invoice or credit note, with a link to its PDF.",
        "parameters": [{"name": "number", "in": "path", "required": True, "schema": NUMBER},
                       {"name": "sellerId", "in": "query", "schema": SELLER_ID,
                        "description": "The document's seller; needed only when two sellers issued the same "
                                       "number (numbers are per seller)"}],
        "responses": {"200": json_response("The document", _DOC_REF), **errors(400, 404, 409)}}),
}

PATHS["/invoices/{number}/upload"] = {"post": {
    "operationId": "uploadInvoiceAgain",
    "summary": "Send a document to Amazon again: after a rejection was fixed, or one held for a person.",
    "description": "A new attempt (its own at-most-once key). A document Amazon accepted is corrected by a credit "
                   "note, never sent again (409); one being processed by Amazon is a 409 too.",
    "parameters": [{"name": "number", "in": "path", "required": True, "schema": NUMBER},
                   {"name": "sellerId", "in": "query", "schema": SELLER_ID},
                   {"name": "Idempotency-Key", "in": "header", "schema": {
                       "type": "string", "pattern": "^[A-Za-z0-9._:~-]{1,128}$"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "properties": {}}}}},
    "responses": {"200": json_response("The document, its upload requested", _DOC_REF),
                  **errors(400, 404, 409, 413, 415)}}}

SCHEMAS = {"SellerProfile": PROFILE, "Document": DOCUMENT}
