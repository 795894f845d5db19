"""The shared adapters, built once per container on first use. Each flow's own `wiring.py`
builds its ports from these and its own stores."""
from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from chalicelib.core import aws
from chalicelib.core.admission import Admission
from chalicelib.core.dynamo import reset_models
from chalicelib.core.queues import SqsTaskQueue
from chalicelib.core.state import DynamoState
from chalicelib.core.tasks import Slots

_resets: list[Callable[[], None]] = []


def cached[T](fn: Callable[[], T]) -> Callable[[], T]:
    """`functools.cache` for a port factory, forgotten by `reset()`."""
    wrapped = cache(fn)
    _resets.append(wrapped.cache_clear)
    return wrapped


@cached
def state() -> DynamoState:
    return DynamoState()


@cached
def admission() -> Admission:
    def read() -> tuple[str | None, frozenset[str]]:
        return state().application_id(), frozenset(s["seller_id"] for s in state().sellers())

    return Admission(read)


@cached
def task_queue() -> SqsTaskQueue:
    from chalicelib import registry

    return SqsTaskQueue(registry.queue_of)


@cached
def slots() -> Slots:
    from chalicelib.core.limiter import DynamoRateLimiter

    return Slots(DynamoRateLimiter(state()))


@cached
def spapi() -> Any:
    # SP-API (and its ~0.35 s import) only where Amazon is called.
    from chalicelib.core.spapi import SpApi

    return SpApi()


def reset() -> None:
    """Tests: forget every adapter (and the table names they captured)."""
    for clear in _resets:
        clear()
    reset_models()
    aws.reset()
