"""The shared adapters, built once per container on first use. Each flow's own `wiring.py`
builds its ports from these and its own stores."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.core import aws
from chalicelib.core.admission import Admission
from chalicelib.core.dynamo import reset_models
from chalicelib.core.queues import SqsTaskQueue
from chalicelib.core.state import DynamoState
from chalicelib.core.tasks import Slots

if TYPE_CHECKING:
    from chalicelib.core.limiter import DynamoRateLimiter

_resets: list[Callable[[], None]] = []


def cached[T](fn: Callable[[], T]) -> Callable[[], T]:
    """`functools.cache` for a port factory, forgotten by `reset()`."""
    wrapped = cache(fn)
    _resets.append(wrapped.cache_clear)
    return wrapped


@dataclass
class Fresh[T]:
    """A value computed at most once every `seconds` per container, then served as it was."""

    compute: Callable[[], T]
    seconds: float
    clock: Callable[[], float] = time.monotonic
    _value: tuple[float, T] | None = field(default=None, init=False)

    def get(self) -> T:
        moment = self.clock()
        if self._value is None or moment - self._value[0] >= self.seconds:
            self._value = (moment, self.compute())
        return self._value[1]


@cached
def state() -> DynamoState:
    return DynamoState()


@cached
def admission() -> Admission:
    def read() -> tuple[str | None, frozenset[str]]:
        return state().application_id(), frozenset(s["seller_id"] for s in state().sellers())

    return Admission(read)


@cached
def health() -> Fresh[dict[str, Any]]:
    from chalicelib import config
    from chalicelib.core.api import read_health

    return Fresh(read_health, config.health_cache_seconds())


@cached
def task_queue() -> SqsTaskQueue:
    from chalicelib import registry

    return SqsTaskQueue(registry.queue_of)


@cached
def slots() -> Slots:
    return Slots(limiter())


@cached
def limiter() -> DynamoRateLimiter:
    from chalicelib.core.limiter import DynamoRateLimiter

    return DynamoRateLimiter(state())


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
