"""SQS: the task and work queues (tasks sent in batches, each to the queue its kind travels
on), and queue depths for /health."""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable

from chalicelib import config, resources
from chalicelib.core import aws
from chalicelib.core.errors import PermanentError
from chalicelib.core.tasks import Task

# SQS caps DelaySeconds at 15 minutes; a task that must wait longer is re-queued again.
MAX_DELAY_SECONDS = 900


def delay_seconds(wait: float) -> int:
    """Whole seconds, rounded up: arriving early would only waste a receive."""
    return max(0, min(MAX_DELAY_SECONDS, math.ceil(wait)))


# A task names its work (a seller, an order id, a page token): far below SQS's 256 KB, so that
# ten of them always fit one SendMessageBatch.
MAX_TASK_BYTES = 16 * 1024


def _same_work(one: tuple[Task, int], other: tuple[Task, int]) -> bool:
    """Tasks that would do the same thing: of one kind, seller and key, with the same parameters
    but `at` (when the change they follow happened: a task reads what is stored, or Amazon's
    order, when it runs, so one does what both would; the later `at` is kept), neither holding
    a rate-limit slot, delayed alike."""
    (a, delay_a), (b, delay_b) = one, other
    return (a.kind, a.seller_id, a.key, a.attempt, delay_a) == (b.kind, b.seller_id, b.key, b.attempt, delay_b) \
        and a.slot is None and b.slot is None \
        and {k: v for k, v in a.params.items() if k != "at"} == {k: v for k, v in b.params.items() if k != "at"}


class SqsTaskQueue:
    """Collects tasks during a batch and sends them ten at a time, one request per queue and
    ten tasks, a task that would repeat one already collected left out (`_same_work`).
    `queue_of(kind)` names the queue a kind travels on (the registry says).

    The tasks collected are the running thread's: Lambda runs one invocation at a time per
    container, but the local stack runs its functions in threads of one process, and one
    function's flush must never send (or discard) another's tasks, under its own role."""

    def __init__(self, queue_of: Callable[[str], resources.Queue],
                 queue_url: Callable[[resources.Queue], str] = config.queue_url):
        self._queue_of = queue_of
        self._queue_url = queue_url
        self._local = threading.local()

    @property
    def _pending(self) -> list[tuple[Task, int]]:
        if not hasattr(self._local, "pending"):
            self._local.pending = []
        pending: list[tuple[Task, int]] = self._local.pending
        return pending

    @_pending.setter
    def _pending(self, value: list[tuple[Task, int]]) -> None:
        self._local.pending = value

    def enqueue(self, task: Task, delay: float = 0) -> None:
        self._queue_of(task.kind)  # an unknown kind fails here, where it is made, not later
        size = len(task.to_json().encode())
        if size > MAX_TASK_BYTES:  # fails the record that made it, not the batch's flush
            raise PermanentError(f"a {task.kind[:40]} task of {size} bytes is larger than a task may be "
                                 f"({MAX_TASK_BYTES})")
        entry = (task, delay_seconds(delay))
        for index, queued in enumerate(self._pending):
            if _same_work(entry, queued):
                # Two notifications of one order in a batch: one task does what both would, as of
                # the later change (a stock movement dated before a count would be taken as counted).
                if str(task.param("at") or "") > str(queued[0].param("at") or ""):
                    self._pending[index] = (queued[0].with_at(task.param("at")), queued[1])
                return
        self._pending.append(entry)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        by_queue: dict[str, list[tuple[Task, int]]] = {}
        for task, delay in pending:
            by_queue.setdefault(self._queue_of(task.kind).suffix, []).append((task, delay))
        for suffix, tasks in by_queue.items():
            url = self._queue_url(resources.queue(suffix))
            for start in range(0, len(tasks), 10):
                chunk = tasks[start:start + 10]
                entries = [{"Id": str(i), "MessageBody": task.to_json(), "DelaySeconds": delay}
                           for i, (task, delay) in enumerate(chunk)]
                response = aws.client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
                failed = response.get("Failed") or []
                if failed:
                    # Nothing is lost: the caller fails the batch and SQS redelivers it.
                    raise RuntimeError(f"{len(failed)} task(s) were not queued: {failed[0].get('Code')}")

    def discard(self) -> None:
        self._pending = []


def queue_depths(urls: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    sqs = aws.client("sqs")
    result = {}
    for name, url in urls:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        result[name] = {
            "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        }
    return result
