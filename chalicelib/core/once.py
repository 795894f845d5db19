"""Calls to Amazon that are not idempotent (confirmShipment, createFeed) are made at most once.

The intent is recorded before the call and the result after it, in the state table, under a
key the caller chooses (the shipment's package reference, the invoice's number). A timeout, a
5xx or a crash between the call and its record leaves the intent with no result: Amazon may or
may not have applied the call. The next attempt therefore asks Amazon first (`reconcile`: read
the order's packages, list the feeds) and calls again only if Amazon says it never happened.

Two attempts of the same task can run at once (SQS delivers at least once): the intent is also
a lease, so only its holder calls; another attempt waits until the lease has run out, then
reconciles. A call refused by Amazon (4xx) was not applied: it is recorded as refused and not
retried under the same key.
"""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.state import CallRecord

# How long the attempt that recorded an intent may take to call Amazon and record the answer:
# the SP-API client's timeout, twice, and margin. Another attempt reconciles only after that.
LEASE_SECONDS = 60.0


class CallLedger(Protocol):
    def call(self, seller_id: str, name: str) -> CallRecord | None: ...
    def lease_call(self, seller_id: str, name: str, fingerprint: str, owner: str, now_s: float,
                   lease_seconds: float, attempts: int) -> bool: ...
    def release_call(self, seller_id: str, name: str, owner: str) -> None: ...
    def settle_call(self, seller_id: str, name: str, owner: str | None, status: str, fingerprint: str,
                    result: Any = None, reason: str | None = None, attempts: int = 0) -> bool: ...


@dataclass(frozen=True)
class Call:
    """One call to make at most once: which operation, for which seller, under which key, with
    which request (its fingerprint tells a different request under the same key)."""

    seller_id: str
    operation: str
    key: str
    request: Any

    @property
    def name(self) -> str:
        return f"{self.operation}#{self.key}"

    @property
    def fingerprint(self) -> str:
        body = json.dumps(self.request, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:32]


class AlreadyRefused(PermanentError):
    """Amazon refused this call before; the same key is never sent again."""


def call_once(ledger: CallLedger, call: Call, send: Callable[[], Any],
              reconcile: Callable[[], Any | None], *, clock: Callable[[], float] = time.time) -> Any:
    """Make `call` through `send` unless it was made already, and return its result.

    `reconcile()` asks Amazon whether the call took effect and returns its result if it did (None
    if Amazon shows no trace of it). `send()` raises `RetryLater` for an unknown outcome (timeout,
    5xx, throttling) and `PermanentError` for a refusal."""
    record = ledger.call(call.seller_id, call.name)
    if record is not None and record.fingerprint != call.fingerprint:
        raise PermanentError(f"{call.operation} {call.key[:60]}: already sent with other content; "
                             "a changed request needs a new key")
    if record is not None and record.status == "done":
        return record.result
    if record is not None and record.status == "refused":
        raise AlreadyRefused(f"{call.operation} {call.key[:60]} was refused by Amazon: {record.reason}")

    now_s = clock()
    if record is not None and record.lease_until is not None and record.lease_until > now_s:
        # Another attempt holds the call (or has just made it): let it finish.
        raise RetryLater(f"{call.operation} {call.key[:60]} is being sent by another attempt",
                         delay_seconds=record.lease_until - now_s + 1)
    if record is not None:
        # An earlier attempt recorded the intent and never the answer: did Amazon apply it?
        found = reconcile()
        if found is not None:
            ledger.settle_call(call.seller_id, call.name, None, "done", call.fingerprint, found,
                               attempts=record.attempts)
            return found

    attempts = (record.attempts if record else 0) + 1
    owner = uuid.uuid4().hex
    if not ledger.lease_call(call.seller_id, call.name, call.fingerprint, owner, now_s, LEASE_SECONDS, attempts):
        raise RetryLater(f"{call.operation} {call.key[:60]} was taken by another attempt", delay_seconds=1)
    try:
        result = send()
    except RetryLater:
        # Outcome unknown: the intent stays, and the next attempt reconciles before anything else.
        ledger.release_call(call.seller_id, call.name, owner)
        raise
    except PermanentError as refused:
        ledger.settle_call(call.seller_id, call.name, owner, "refused", call.fingerprint,
                           reason=refused.reason[:300], attempts=attempts)
        raise
    ledger.settle_call(call.seller_id, call.name, owner, "done", call.fingerprint, result, attempts=attempts)
    return result
