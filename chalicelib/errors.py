"""Typed errors shared by services and adapters.

A queue handler decides what happens to a record from the error's type alone:
- `PermanentError`: the input can never succeed (bad JSON, missing fields, unknown
  seller). The reason is recorded, the record fails, and after the queue's retries it
  lands in the dead-letter queue, where it can be inspected and redriven.
- `RetryLater`: throttling, timeouts, a 5xx from Amazon. The work goes back to its
  queue after `delay_seconds`, without counting as a failure.
"""
from __future__ import annotations


class SelleropsError(Exception):
    """Base class: every error this project raises on purpose."""


class PermanentError(SelleropsError):
    """The input is wrong and retrying cannot help."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidNotification(PermanentError):
    """An SQS message that is not a usable SP-API notification. Once the envelope parsed,
    `notification` names its type and id, for the failure record."""

    notification: tuple[str | None, str | None] = (None, None)


class RetryLater(SelleropsError):
    """A transient condition: try the same work again after a delay."""

    def __init__(self, reason: str, delay_seconds: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.delay_seconds = max(0.0, float(delay_seconds))

