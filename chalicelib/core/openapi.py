"""The OpenAPI 3.0 document (served at /openapi.json): the shared parts here, each flow's paths
and schemas from its own `openapi.py`, put together from the registry."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MONEY_REF = {"$ref": "#/components/schemas/Money"}

_MONEY = {"type": "object", "properties": {"amount": {"type": "string", "example": "29.99"},
                                           "currency": {"type": "string", "example": "EUR"}}}
_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


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
                 "description": "Order status for Amazon sellers: where is order X, was it invoiced, was it paid."},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
    }
