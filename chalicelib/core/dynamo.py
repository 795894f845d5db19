"""What every DynamoDB store shares: model classes built on first use, conditional-write
failures told apart from real ones, and page tokens.

Table names come from the environment, which Chalice sets only while a handler runs, so each
store builds its PynamoDB model classes in a cached function on first use and registers that
function here, so tests switching environments can forget them all at once (`reset_models`).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.errors import PermanentError

_builders: list[Callable[..., Any]] = []



def models_builder[F: Callable[..., Any]](fn: F) -> F:
    """Mark a store's cached model-building function, so `reset_models` forgets its tables."""
    _builders.append(fn)
    return fn


def reset_models() -> None:
    """Forget table names (tests switch environments)."""
    for fn in _builders:
        fn.cache_clear()  # type: ignore[attr-defined]


def conditional_failed(exc: Exception) -> bool:
    """A PynamoDB write refused by its condition (not an outage, not a bug)."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise PermanentError("nextToken is not a token this API returned") from None
    if not isinstance(key, dict):
        raise PermanentError("nextToken is not a token this API returned")
    return key
