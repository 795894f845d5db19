"""What every DynamoDB store shares: model classes built on first use, conditional-write
failures told apart from real ones, and JSON packed small (writes are billed by the KB).

Table names come from the environment, which Chalice sets only while a handler runs, so each
store builds its PynamoDB model classes in a cached function on first use and registers that
function here, so tests switching environments can forget them all at once (`reset_models`).
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import BINARY, STRING
from pynamodb.exceptions import DeleteError, PutError, UpdateError

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


@dataclass
class Written:
    ok: bool = True


@contextmanager
def unless_refused() -> Iterator[Written]:
    """Around one conditional write: `written.ok` turns False when its condition refused it (a
    duplicate, a race lost), which is an answer, not an error; every other failure goes on.

        with unless_refused() as written:
            Row(key).update(actions=[...], condition=...)
        return written.ok
    """
    written = Written()
    try:
        yield written
    except (UpdateError, PutError, DeleteError) as exc:
        if not conditional_failed(exc):
            raise
        written.ok = False


class PackedJSONAttribute(Attribute[Any]):
    """JSON stored compressed (zlib, as binary). DynamoDB bills a write per started KB of the
    whole item, and again for each index that projects it: a large JSON document stored as text
    makes every write of its item cost two or three times what it must. Items written before
    (the JSON as a string) still read."""

    attr_type = BINARY

    def serialize(self, value: Any) -> bytes | None:
        if value is None:
            return None
        return zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 9)

    def get_value(self, value: dict[str, Any]) -> Any:
        return value[STRING] if STRING in value else super().get_value(value)

    def deserialize(self, value: bytes | str) -> Any:
        if isinstance(value, str):
            return json.loads(value, strict=False)
        return json.loads(zlib.decompress(value))
