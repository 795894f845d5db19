"""Request bodies checked against the route's JSON schema (the OpenAPI 3.0 subset the routes
use: type, nullable, required, properties, additionalProperties, enum, string lengths and
patterns, date and date-time formats, number bounds, array items and lengths, the number of
an object's fields, allOf, $ref to components/schemas), before anything is written. The first
problem found is the answer, with the path of the field (`items[2].quantity`)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any


class SchemaError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path or 'the body'}: {message}")
        self.path = path or "$"
        self.problem = message


def validate(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any] | None = None,
             path: str = "") -> None:
    components = components or {}
    while "$ref" in schema:
        schema = components[str(schema["$ref"]).rsplit("/", 1)[-1]]
    if value is None:  # before allOf: a nullable $ref is written {"allOf": [ref], "nullable": true}
        if schema.get("nullable"):
            return
        if "type" in schema or "allOf" in schema:
            raise SchemaError(path, "must not be null")
        return
    for part in schema.get("allOf", ()):
        validate(value, part, components, path)
    kind = schema.get("type")
    if kind == "object":
        _object(value, schema, components, path)
    elif kind == "array":
        _array(value, schema, components, path)
    elif kind == "string":
        _string(value, schema, path)
    elif kind in ("integer", "number"):
        _number(value, schema, path, kind)
    elif kind == "boolean" and not isinstance(value, bool):
        raise SchemaError(path, "must be true or false")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(path, f"must be one of {', '.join(map(str, schema['enum']))}")


def _object(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any], path: str) -> None:
    if not isinstance(value, dict):
        raise SchemaError(path, "must be an object")
    properties = schema.get("properties", {})
    for name in schema.get("required", ()):
        if name not in value:
            raise SchemaError(_join(path, name), "is required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], components, _join(path, name))
        elif extra is False:  # its name is not repeated: it is the caller's text, not ours
            raise SchemaError(path, f"holds a field it does not take; it takes: {', '.join(properties) or 'none'}")
        elif isinstance(extra, Mapping):
            validate(item, extra, components, _join(path, "*"))
    if len(value) < schema.get("minProperties", 0) or len(value) > schema.get("maxProperties", len(value)):
        raise SchemaError(path, schema.get("description") or "has too few or too many fields")


def _array(value: Any, schema: Mapping[str, Any], components: Mapping[str, Any], path: str) -> None:
    if not isinstance(value, list):
        raise SchemaError(path, "must be a list")
    if len(value) < schema.get("minItems", 0):
        raise SchemaError(path, f"needs at least {schema['minItems']} item(s)")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SchemaError(path, f"takes at most {schema['maxItems']} items")
    for index, item in enumerate(value):
        validate(item, schema.get("items", {}), components, f"{path}[{index}]")


def _string(value: Any, schema: Mapping[str, Any], path: str) -> None:
    if not isinstance(value, str):
        raise SchemaError(path, "must be a string")
    if len(value) < schema.get("minLength", 0):
        raise SchemaError(path, f"must be at least {schema['minLength']} character(s)")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise SchemaError(path, f"must be at most {schema['maxLength']} characters")
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        raise SchemaError(path, f"must match {schema['pattern']}")
    fmt = schema.get("format")
    try:
        if fmt == "date-time":
            if datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is None:
                raise SchemaError(path, "needs a time zone, e.g. 2026-11-01T10:00:00Z")
        elif fmt == "date":
            date.fromisoformat(value)
        elif fmt == "decimal":
            if not re.fullmatch(r"-?[0-9]{1,15}(\.[0-9]{1,6})?", value):
                raise InvalidOperation
            Decimal(value)
    except SchemaError:
        raise
    except (ValueError, InvalidOperation, OverflowError):
        raise SchemaError(path, f"is not a valid {fmt}") from None


def _number(value: Any, schema: Mapping[str, Any], path: str, kind: str) -> None:
    wrong_kind = kind == "integer" and not isinstance(value, int)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or wrong_kind:
        raise SchemaError(path, f"must be {'a whole number' if kind == 'integer' else 'a number'}")
    if "minimum" in schema and value < schema["minimum"]:
        raise SchemaError(path, f"must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise SchemaError(path, f"must be at most {schema['maximum']}")


@cache
def _pattern(text: str) -> re.Pattern[str]:
    """A schema's pattern, as JSON Schema means it: `$` is the end of the string (Python's `$`
    would also match before a final newline)."""
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", text))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
