"""Typed tasks and outcomes, and the one place that decides what happens to a task that must
wait or fail: its retry cap and its rate-limit slot.

A task is a value: its kind (which flow runs it), the seller, a key (what it is about, e.g. an
order id), kind-specific parameters, how many transient failures it has had, and the call slot
the shared limiter booked for it. It travels through SQS as JSON.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol

from chalicelib.core.errors import Parked, PermanentError, RetryLater, WaitForSlot

# A task that keeps failing transiently (not waiting for its rate-limit slot) gives up here.
MAX_TASK_RETRIES = 50


class Outcome(str, Enum):
    """What happened to one message or task. Counted per queue (metrics, the local summary)."""

    CREATED = "created"  # a record that did not exist
    UPDATED = "updated"  # a record moved on
    DUPLICATE = "duplicate"  # the same thing again: nothing changed
    STALE = "stale"  # older than what we hold: kept in history, state unchanged
    UNHANDLED = "unhandled"  # a notification type no flow consumes: acknowledged and counted
    DONE = "done"  # a task did its work
    SKIPPED = "skipped"  # a task found its work already done
    WAITING = "waiting"  # a task went back to its queue until its rate-limit slot
    PARKED = "parked"  # a task went back to its queue while another does its work (a search page)
    RETRIED = "retried"  # a task went back to its queue after a transient failure
    ATTENTION = "attention"  # a task did what it could; a person must look at the rest (the reason is kept)


# When one notification feeds several flows, the message's outcome is the one that says most.
_STRENGTH = {Outcome.CREATED: 5, Outcome.UPDATED: 4, Outcome.DONE: 4, Outcome.ATTENTION: 4, Outcome.STALE: 3,
             Outcome.SKIPPED: 2, Outcome.DUPLICATE: 1, Outcome.UNHANDLED: 0, Outcome.WAITING: 0, Outcome.PARKED: 0,
             Outcome.RETRIED: 0}


def strongest(outcomes: list[Outcome]) -> Outcome:
    return max(outcomes, key=lambda o: _STRENGTH[o]) if outcomes else Outcome.UNHANDLED


@dataclass(frozen=True)
class Result:
    """A consumer's or a task's outcome, with facts for the log line (counts, ids) and, for
    intake, the marketplace the notification concerns (the backstop polls it)."""

    outcome: Outcome
    facts: Mapping[str, Any] = field(default_factory=dict)
    marketplace_id: str | None = None


@dataclass(frozen=True)
class Slot:
    operation: str
    at: float  # epoch seconds


@dataclass(frozen=True)
class Task:
    kind: str
    seller_id: str
    key: str  # what the task is about (an order id, a marketplace, a feed id)
    params: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 0  # transient failures so far
    slot: Slot | None = None

    def param(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def with_at(self, at: Any) -> Task:
        """The same task (attempts and slot kept), as of another change time (param `at`)."""
        return replace(self, params={**self.params, "at": at})

    def with_params(self, **changes: Any) -> Task:
        """A follow-up task of the same kind (a next page): fresh attempts, no slot."""
        return Task(self.kind, self.seller_id, self.key, {**self.params, **changes})

    def waiting(self, slot: Slot) -> Task:
        return replace(self, slot=slot)

    def retried(self) -> Task:
        return replace(self, attempt=self.attempt + 1, slot=None)

    def to_json(self) -> str:
        body: dict[str, Any] = {"kind": self.kind, "sellerId": self.seller_id, "key": self.key,
                                "params": dict(self.params), "attempt": self.attempt}
        if self.slot is not None:
            body["slot"] = {"operation": self.slot.operation, "at": self.slot.at}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, body: str) -> Task:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise PermanentError("task message is not JSON") from None
        if not isinstance(data, dict):
            raise PermanentError("task message is not a JSON object")
        if "task" in data and "kind" not in data:
            data = _from_first_format(data)
        kind, seller_id, key = data.get("kind"), data.get("sellerId"), data.get("key")
        params, attempt, slot = data.get("params") or {}, data.get("attempt", 0), data.get("slot")
        if not all(isinstance(v, str) and v for v in (kind, seller_id)) or not isinstance(key, str):
            raise PermanentError(f"task message lacks kind, sellerId or key: {str(kind)[:40]!r}")
        if not isinstance(params, dict) or not isinstance(attempt, int) or isinstance(attempt, bool):
            raise PermanentError(f"task {kind[:40]!r}: params must be an object and attempt a number")
        parsed_slot = None
        if slot is not None:
            if not (isinstance(slot, dict) and isinstance(slot.get("operation"), str)
                    and isinstance(slot.get("at"), (int, float)) and not isinstance(slot.get("at"), bool)):
                raise PermanentError(f"task {kind[:40]!r}: slot must be an operation and a time")
            parsed_slot = Slot(slot["operation"], float(slot["at"]))
        return cls(kind, seller_id, key, params, attempt, parsed_slot)


def _from_first_format(data: dict[str, Any]) -> dict[str, Any]:
    """Tasks queued by the first release (`{"task": "fetch_order", "seller_id", "order_id", ...,
    "retries", "slot", "slot_operation"}`) still run after an upgrade."""
    reserved = {"task", "seller_id", "order_id", "retries", "slot", "slot_operation"}
    params = {k: v for k, v in data.items() if k not in reserved}
    key = data.get("order_id") or data.get("marketplace_id") or ""
    slot = None
    if data.get("slot") is not None and data.get("slot_operation"):
        slot = {"operation": data["slot_operation"], "at": data["slot"]}
    return {"kind": data.get("task"), "sellerId": data.get("seller_id"), "key": key, "params": params,
            "attempt": data.get("retries", 0), "slot": slot}


class TaskQueue(Protocol):
    def enqueue(self, task: Task, delay: float = 0) -> None: ...


class RateLimiter(Protocol):
    def reserve_block(self, seller_id: str, operation: str, count: int) -> list[float]: ...
    def release(self, seller_id: str, operation: str, count: int) -> bool: ...
    def lateness_allowed(self, operation: str) -> float: ...
    def rate(self, operation: str) -> float: ...
    def queued(self, seller_id: str, operation: str, now: float) -> float: ...


# The most slots one booking takes: a task batch's size.
BLOCK = 10


class Slots:
    """The shared rate limiter as a task sees it: call now, or book a slot and come back.

    A slot is booked once; the task comes back when it is due and calls without booking again.
    Late calls whose slots have passed bunch together, and Amazon's bucket absorbs that only up
    to its burst, so a task much later than its slot (a backlogged queue) books again.

    Bookings are amortised over a batch: the first task of a kind and seller that needs a slot
    books one for each such task still to run in the batch (one read and one write for up to ten
    calls), and the next ones take theirs from this container's purse. What the batch did not use
    (tasks that found their work done) is given back when it ends, if nobody has booked since, so
    Amazon's capacity is not lost to slots nobody calls in."""

    def __init__(self, limiter: RateLimiter):
        self.limiter = limiter
        self._ahead: Counter[tuple[str, str]] = Counter()  # (kind, seller) -> tasks still to run without a slot
        self._purse: dict[tuple[str, str], list[float]] = {}  # (seller, operation) -> slots booked, not handed out
        self._lock = threading.Lock()

    def expect(self, tasks: Iterable[Task]) -> None:
        """A batch is about to run these tasks, in this order."""
        with self._lock:
            self._ahead = Counter((t.kind, t.seller_id) for t in tasks if t.slot is None)

    def started(self, task: Task) -> None:
        """The batch runs `task` now: it is no longer ahead."""
        with self._lock:
            if task.slot is None and self._ahead[(task.kind, task.seller_id)] > 0:
                self._ahead[(task.kind, task.seller_id)] -= 1

    def take(self, task: Task, operation: str, now: float) -> None:
        """Return when the task may call `operation`; raise `WaitForSlot` otherwise."""
        slot = task.slot
        if slot is not None and slot.operation == operation:
            if now < slot.at:
                raise WaitForSlot(operation, slot.at, slot.at - now)
            if now - slot.at <= self.limiter.lateness_allowed(operation):
                return
        at = self._booked(task, operation, now)
        if at - now > 1e-6:
            raise WaitForSlot(operation, at, at - now)

    def _booked(self, task: Task, operation: str, now: float) -> float:
        """A slot for this call: the purse's earliest still usable, or a new block's first."""
        key = (task.seller_id, operation)
        lateness = self.limiter.lateness_allowed(operation)
        with self._lock:
            purse = [at for at in self._purse.get(key, ()) if now - at <= lateness]
            if not purse:
                count = min(BLOCK, 1 + self._ahead[(task.kind, task.seller_id)])
                purse = [now + wait for wait in self.limiter.reserve_block(task.seller_id, operation, count)]
            self._purse[key] = purse[1:]
            return purse[0]

    def settle(self) -> None:
        """The batch is over: give back the slots booked for tasks that did not call."""
        with self._lock:
            self._ahead.clear()
            for (seller_id, operation), purse in list(self._purse.items()):
                if not purse or self.limiter.release(seller_id, operation, len(purse)):
                    del self._purse[(seller_id, operation)]
                # else: somebody booked after us; the slots stay ours for this container's next batch

    def queued(self, operation: str, wait_seconds: float) -> float:
        """How many calls of `operation` were booked ahead of a booking that waits this long."""
        return max(0.0, wait_seconds) * self.limiter.rate(operation)


def handle_retry(task: Task, error: RetryLater, queue: TaskQueue) -> Outcome:
    """Put a task that must wait back in its queue: with its booked slot (not a failure), or
    after a transient failure (counted; past the cap it is a permanent error)."""
    if isinstance(error, WaitForSlot):
        queue.enqueue(task.waiting(Slot(error.operation, error.at)), delay=error.delay_seconds)
        return Outcome.WAITING
    if isinstance(error, Parked):
        queue.enqueue(replace(task, slot=None), delay=error.delay_seconds)
        return Outcome.PARKED
    again = task.retried()
    if again.attempt > MAX_TASK_RETRIES:
        raise PermanentError(f"gave up after {MAX_TASK_RETRIES} retries: {error.reason}") from None
    queue.enqueue(again, delay=error.delay_seconds)
    return Outcome.RETRIED
