"""The rate limiter shared by every Lambda: one GCRA record per (seller, operation) in the
state table, reserved with conditional writes so parallel invocations never double-book."""
from __future__ import annotations

import time
from collections.abc import Callable

from chalicelib import config
from chalicelib.core.errors import RetryLater
from chalicelib.core.limits import limit_for, queued, release, reserve_block
from chalicelib.core.state import DynamoState

_MAX_ATTEMPTS = 8


class DynamoRateLimiter:
    def __init__(self, state: DynamoState | None = None, clock: Callable[[], float] = time.time):
        self._state = state or DynamoState()
        self._clock = clock
        self._written: dict[str, float] = {}  # the TAT this container last wrote, per bucket

    def reserve_block(self, seller_id: str, operation: str, count: int) -> list[float]:
        """Book the next `count` call slots in one write; returns each one's wait (0: call now)."""
        limit = limit_for(operation, config.rate_scale())
        key = f"{seller_id}#{operation}"
        for _ in range(_MAX_ATTEMPTS):
            current = self._state.bucket(key)
            new_tat, waits = reserve_block(current, self._clock(), limit, count)
            if self._state.move_bucket(key, current, new_tat):
                self._written[key] = new_tat
                return waits
            # Another invocation booked in between: read again and retry.
        raise RetryLater(f"rate limiter for {operation} is contended", delay_seconds=1)

    def release(self, seller_id: str, operation: str, count: int) -> bool:
        """Give back the last `count` slots this container booked, if nobody has booked since
        (one conditional write); False when the slots stay booked."""
        key = f"{seller_id}#{operation}"
        tat = self._written.get(key)
        if tat is None:
            return False
        new_tat = release(tat, limit_for(operation, config.rate_scale()), count)
        if not self._state.move_bucket(key, tat, new_tat):
            return False
        self._written[key] = new_tat
        return True

    def rate(self, operation: str) -> float:
        """The operation's calls per second, as this deployment paces them."""
        return limit_for(operation, config.rate_scale()).rate

    def queued(self, seller_id: str, operation: str, now: float) -> float:
        """How many calls are booked beyond what the bucket lets go at once (0: none wait)."""
        return queued(self._state.bucket(f"{seller_id}#{operation}"), now, limit_for(operation, config.rate_scale()))

    def lateness_allowed(self, operation: str) -> float:
        """How long after its booked slot a call may still go: half the bucket's burst, so calls
        that come back late together never exceed what Amazon's bucket holds."""
        return limit_for(operation, config.rate_scale()).tolerance / 2
