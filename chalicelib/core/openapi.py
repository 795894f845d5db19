"""The OpenAPI 3.0 document (served at /openapi.json): the shared parts here, each flow's paths
and schemas from its own `openapi.py`, put together from the registry.

The document is the contract, checked by schemathesis in `make test` (tests/e2e/test_contract.py):
every parameter's pattern, every response's schema (`required` and no undeclared property),
every error status. `read(...)` describes a GET and the HEAD that answers it without a body.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

MONEY_REF = {"$ref": "#/components/schemas/Money"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` or null (a $ref cannot carry `nullable` in OpenAPI 3.0: it is wrapped)."""
    if "$ref" in schema:
        return {"allOf": [dict(schema)], "nullable": True}
    found = {**schema, "nullable": True}
    if "enum" in found:
        found["enum"] = [*found["enum"], None]
    return found


def strict(properties: Mapping[str, Any], *, optional: Iterable[str] = ()) -> dict[str, Any]:
    """An object with exactly these properties, all present except `optional`."""
    left_out = set(optional)
    return {"type": "object", "additionalProperties": False,
            "required": [name for name in properties if name not in left_out], "properties": dict(properties)}


# An ISO 8601 / RFC 3339 date-time as this API writes and reads them: UTC offset or Z, years
# 2000 to 2199 (what a filter accepts; a moment outside is a 400).
DATE_TIME = {"type": "string", "format": "date-time", "example": "2026-11-01T00:00:00Z"}
DATE_TIME_FILTER = {**DATE_TIME, "pattern": r"^2[01][0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
                                            r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
                                            r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"}
SELLER_ID = {"type": "string", "pattern": "^[A-Z0-9]{6,32}$", "example": "A2EUQ1WTGCTBG2"}
# Amazon order ids are 3-7-7 digits; a little wider is accepted (other channels use other shapes).
ORDER_ID = {"type": "string", "pattern": "^[A-Za-z0-9-]{5,40}$", "example": "028-1234567-1234567"}
MARKETPLACE_ID = {"type": "string", "pattern": "^[A-Z0-9]{10,14}$", "example": "A1PA6795UKMFR9"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}
# The seller of a route where it is optional for a one-seller deployment (core/http.py one_seller).
SELLER_QUERY = {"name": "sellerId", "in": "query", "schema": SELLER_ID,
                "description": "The seller; required when the deployment serves more than one (a 409 without it then)"}
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "schema": {
    "type": "string", "pattern": "^[A-Za-z0-9._:~-]{1,128}$"},
    "description": "Your id for this request: the same key and body return the same answer and apply once"}
NEXT_TOKEN = {"type": "string", "minLength": 1, "maxLength": 4096,
              "description": "From the previous page's nextToken, with the same other parameters; "
                             "anything else is a 400. Tokens last a day."}

_MONEY = strict({"amount": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "example": "29.99",
                            "description": "Exact decimal, as a string: never a float"},
                 "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "example": "EUR"}})
_ERROR = strict({"error": {"type": "string", "example": "BadRequest"},
                 "message": {"type": "string", "example": "limit must be a whole number from 1 to 100"},
                 "details": {"type": "object"}}, optional=["details"])

_ERRORS = {
    "400": "A parameter or the body is wrong; the message says which and why",
    "401": "No bearer token (Authorization: Bearer <token>)",
    "403": "The token is not valid, or lacks the route's scope or the seller",
    "404": "No such thing (or not one this token may see)",
    "409": "The Idempotency-Key was used for another request, or is still being answered",
    "413": "The body is too large",
    "415": "The body is not application/json",
}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def errors(*statuses: int, secured: bool = True) -> dict[str, Any]:
    """The error responses of an operation: these statuses, and 401/403 when it needs a token."""
    wanted = {str(s) for s in statuses} | ({"401", "403"} if secured else set())
    return {status: error_response(text) for status, text in _ERRORS.items() if status in wanted}


def json_response(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": dict(schema)}}}


def read(operation: Mapping[str, Any]) -> dict[str, Any]:
    """A GET and its HEAD (the same answer, headers only)."""
    head = copy.deepcopy(dict(operation))
    head["summary"] = f"Headers only: {operation.get('summary', '')}"
    if "operationId" in head:
        head["operationId"] = f"{head['operationId']}Head"
    head["responses"] = {status: {"description": r["description"]} for status, r in operation["responses"].items()}
    return {"get": dict(operation), "head": head}


def document(parts: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """The whole document from (paths, schemas) parts, in the registry's order."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Error": _ERROR, "Money": _MONEY}
    for part_paths, part_schemas in parts:
        clash = (set(paths) & set(part_paths)) | (set(schemas) & set(part_schemas))
        if clash:
            raise ValueError(f"two flows describe {', '.join(sorted(clash))}")
        paths.update(part_paths)
        schemas.update(part_schemas)
    return {
        "openapi": "3.0.3",
        "info": {"title": "sellerops", "version": "1.0.0",
                 "description": "The back office of an Amazon seller: orders and their status, what failed "
                                "and why. Every error is {\"error\", \"message\"}; times are UTC ISO 8601; "
                                "money is an exact decimal string with its currency; lists page through "
                                "nextToken."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {
            "type": "http", "scheme": "bearer",
            "description": "The deployment's token, or a named token with scopes (python -m infra.tokens)"}},
            "schemas": schemas},
    }
