"""The rate limiter shared by every Lambda: one GCRA record per (seller, operation) in the
state table, reserved with conditional writes so parallel invocations never double-book."""
from __future__ import annotations

import time

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import config
from chalicelib.adapters.dynamodb import _conditional_failed, _models
from chalicelib.domain.limits import limit_for, reserve
from chalicelib.errors import RetryLater

_MAX_ATTEMPTS = 8


class DynamoRateLimiter:
    def __init__(self, clock=time.time):
        self._clock = clock

    def reserve(self, seller_id: str, operation: str) -> float:
        """Book the next call slot; returns how many seconds until it (0: call now)."""
        Row = _models().state
        limit = limit_for(operation, config.rate_scale())
        key = ("BUCKET", f"{seller_id}#{operation}")
        for _ in range(_MAX_ATTEMPTS):
            try:
                current = Row.get(*key, consistent_read=True, attributes_to_get=["pk", "sk", "tat"]).tat
            except DoesNotExist:
                current = None
            now = self._clock()
            new_tat, wait = reserve(current, now, limit)
            condition = Row.tat.does_not_exist() if current is None else Row.tat == current
            try:
                Row(*key).update(actions=[Row.tat.set(new_tat)], condition=condition)
                return wait
            except UpdateError as exc:
                if not _conditional_failed(exc):
                    raise
                # Another invocation booked in between: read again and retry.
        raise RetryLater(f"rate limiter for {operation} is contended", delay_seconds=1)

    def lateness_allowed(self, operation: str) -> float:
        """How long after its booked slot a call may still go: half the bucket's burst, so calls
        that come back late together never exceed what Amazon's bucket holds."""
        return limit_for(operation, config.rate_scale()).tolerance / 2
