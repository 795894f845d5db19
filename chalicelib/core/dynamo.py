"""What every DynamoDB store shares: model classes built on first use, and conditional-write
failures told apart from real ones.

Table names come from the environment, which Chalice sets only while a handler runs, so each
store builds its PynamoDB model classes in a cached function on first use and registers that
function here, so tests switching environments can forget them all at once (`reset_models`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
