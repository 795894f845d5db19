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
from pynamodb.connection.base import BOTOCORE_EXCEPTIONS
from pynamodb.constants import (
    ALL_NEW,
    ALL_OLD,
    ATTRIBUTES,
    BINARY,
    RETURN_VALUES_ON_CONDITION_FAILURE,
    STRING,
    UPDATE_ITEM,
)
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


class TellsWhatRefused:
    """A PynamoDB model mixin (`class Row(TellsWhatRefused, Model)`): `update` given a list as
    `refused` asks DynamoDB for the item as it stood when the condition refused the write
    (ReturnValuesOnConditionCheckFailure=ALL_OLD, which PynamoDB's own update does not pass),
    and appends its attributes (DynamoDB's format, for `from_raw_data`) to the list before the
    refusal is raised as usual: a caller that must know what it lost to needs no read after.
    Billed as the write was; the item is not a read."""

    def update(self, actions: list[Any], condition: Any = None, *, add_version_condition: bool = True,
               refused: list[dict[str, Any]] | None = None) -> Any:
        if refused is None:
            return super().update(actions, condition, add_version_condition=add_version_condition)  # type: ignore[misc]
        model: Any = self
        table = model._get_connection()
        hash_key, range_key = model._get_hash_range_key_serialized_values()
        operation = table.connection.get_operation_kwargs(
            table_name=table.table_name, hash_key=hash_key, range_key=range_key, actions=actions,
            condition=condition, return_values=ALL_NEW)
        operation[RETURN_VALUES_ON_CONDITION_FAILURE] = ALL_OLD
        try:
            data = table.connection.dispatch(UPDATE_ITEM, operation)
        except BOTOCORE_EXCEPTIONS as cause:
            error = UpdateError(f"Failed to update item: {cause}", cause)
            # PynamoDB re-raises botocore's error without the item: botocore's own carries it.
            answer = getattr(cause.__context__, "response", None) or {}
            if conditional_failed(error) and answer.get("Item"):
                refused.append(answer["Item"])
            raise error from cause
        model.deserialize(data[ATTRIBUTES])
        return data


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
