"""Typed errors shared by the flows and the adapters.

A queue handler decides what happens to a record from the error's type alone:
- `PermanentError`: the input can never succeed (bad JSON, missing fields, unknown
  seller). The reason is recorded, the record fails, and after the queue's retries it
  lands in the dead-letter queue, where it can be inspected and redriven.
- `RetryLater`: throttling, timeouts, a 5xx from Amazon. The work goes back to its
  queue after `delay_seconds`, without counting as a failure.
- `WaitForSlot`: a task booked its turn with the shared rate limiter and comes back then.
- `Parked`: a task's work is in other hands for now (a search page); it comes back to check.
"""
from __future__ import annotations


class SelleropsError(Exception):
    """Base class: every error this project raises on purpose."""


REASON_LIMIT = 300


class PermanentError(SelleropsError):
    """The input is wrong and retrying cannot help. The reason is for a person: it names the
    field and quotes at most a few dozen characters of a value (core/fields.py `quote`); it is
    cut at REASON_LIMIT characters whatever it holds."""

    def __init__(self, reason: str):
        reason = str(reason)
        if len(reason) > REASON_LIMIT:
            reason = reason[:REASON_LIMIT - 1] + "…"
        super().__init__(reason)
        self.reason = reason


class InvalidNotification(PermanentError):
    """An SQS message that is not a usable SP-API notification. Once the envelope parsed,
    `notification` names its type and id, for the failure record."""

    notification: tuple[str | None, str | None] = (None, None)


class NotAdmitted(InvalidNotification):
    """A notification that is not ours to process: sent for another SP-API application, or for
    a seller this deployment does not serve (core/admission.py). Recorded as kind "refused"."""


class RetryLater(SelleropsError):
    """A transient condition: try the same work again after a delay."""

    def __init__(self, reason: str, delay_seconds: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.delay_seconds = max(0.0, float(delay_seconds))


class WaitForSlot(RetryLater):
    """The rate limiter booked a call slot for `operation` at `at` (epoch seconds): the task
    comes back then and calls without booking again. Not a failure and not a retry."""

    def __init__(self, operation: str, at: float, delay_seconds: float):
        super().__init__(f"{operation} rate limit: next slot in {delay_seconds:.1f}s", delay_seconds)
        self.operation = operation
        self.at = at


class Parked(RetryLater):
    """The task's work is being done by another (a search page reads its order): it comes back
    after the delay to check, without counting as a retry and without a slot."""
