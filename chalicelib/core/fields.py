"""Reading fields of what Amazon (or anyone) sent, pure and strict: each value is of the type we
need, within bounds DynamoDB and SQS accept, or a `PermanentError` (of the caller's class) whose
reason names the field and quotes at most QUOTE characters of the value, never more of the
message.

Every parser of an input (notifications, Amazon's answers, reports, request bodies) reads its
fields through these, so that nothing untyped reaches a batch handler and nothing a store would
refuse reaches a write.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.errors import PermanentError

QUOTE = 40
# Moments outside these years are refused: nothing of Amazon's is older, and conversions to UTC
# and fixed-width ISO 8601 strings (core/times.py) hold within them.
FIRST_YEAR, LAST_YEAR = 1995, 2199

_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")
# Amazon's ids: sellers (merchant tokens) and marketplaces are capitals and digits; orders are
# 3-7-7 digits on Amazon's channels, other channels' ids are letters, digits and hyphens.
SELLER_ID = re.compile(r"[A-Za-z0-9]{1,32}")
MARKETPLACE_ID = re.compile(r"[A-Za-z0-9]{2,20}")
ORDER_ID = re.compile(r"[A-Za-z0-9-]{3,64}")
ITEM_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TOKEN_LIKE = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")  # notification, subscription, application ids


def quote(value: Any) -> str:
    """A value as a reason may show it: its type when it is not a string, else its first
    QUOTE characters (repr, so control characters stay visible)."""
    if not isinstance(value, str):
        return f"a JSON {_kind(value)}"
    cut = value[:QUOTE]
    return repr(cut) + ("…" if len(value) > QUOTE else "")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _not_shown(value: Any) -> str:
    return "(personal data, not shown)"


def text(value: Any, field: str, *, error: type[PermanentError] = PermanentError, limit: int = 200,
         pattern: re.Pattern[str] | None = None, required: bool = False, what: str = "",
         personal: bool = False) -> str | None:
    """A string of at most `limit` characters (matching `pattern`), or None when absent. A
    `personal` value (a buyer's name, an address) is never quoted, not even in part."""
    if value is None or value == "":
        if required:
            raise error(f"{what}{field} is missing")
        return None
    shown = _not_shown if personal else quote
    if not isinstance(value, str):
        raise error(f"{what}{field} must be a string, not {quote(value)}")  # a type, never a value
    if len(value) > limit:
        raise error(f"{what}{field} is {len(value)} characters long (at most {limit}): {shown(value)}")
    if pattern is not None and not pattern.fullmatch(value):
        raise error(f"{what}{field} {shown(value)} is not a valid {field.rsplit('.', 1)[-1]}")
    if pattern is None and not _PRINTABLE.fullmatch(value):
        raise error(f"{what}{field} holds control characters")
    return value


def required_text(value: Any, field: str, **options: Any) -> str:
    found = text(value, field, required=True, **options)
    assert found is not None
    return found


def whole(value: Any, field: str, *, error: type[PermanentError] = PermanentError, default: int = 0,
          low: int = 0, high: int = 1_000_000, what: str = "") -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{what}{field} must be a whole number, not {quote(value)}")
    if not low <= value <= high:
        raise error(f"{what}{field} must be from {low} to {high}")
    return value


def moment(value: Any, field: str, *, error: type[PermanentError] = PermanentError, required: bool = False,
           what: str = "") -> datetime | None:
    """An ISO 8601 date-time with a time zone, in the years FIRST_YEAR to LAST_YEAR."""
    if value is None or value == "":
        if required:
            raise error(f"{what}{field} is missing")
        return None
    if not isinstance(value, str):
        raise error(f"{what}{field} must be an ISO 8601 date-time string, not {quote(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise error(f"{what}{field} {quote(value)} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise error(f"{what}{field} {quote(value)} has no time zone")
    try:
        in_utc = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        in_utc = None
    if in_utc is None or not FIRST_YEAR <= in_utc.year <= LAST_YEAR:
        raise error(f"{what}{field} {quote(value)} is not between the years {FIRST_YEAR} and {LAST_YEAR}")
    return parsed


def strings(value: Any, field: str, *, error: type[PermanentError] = PermanentError, limit: int = 50,
            what: str = "") -> tuple[str, ...]:
    """A list of short strings (program names, flags), or () when absent."""
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > limit:
        raise error(f"{what}{field} must be a list of at most {limit} strings")
    return tuple(required_text(v, f"{field}[{i}]", error=error, limit=100, what=what) for i, v in enumerate(value))
