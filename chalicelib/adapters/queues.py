"""SQS: the task queue, and helpers to return work with a delay."""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Iterable

from chalicelib import config
from chalicelib.adapters import aws

# SQS caps DelaySeconds at 15 minutes; a task that must wait longer is re-queued again.
MAX_DELAY_SECONDS = 900


def delay_seconds(wait: float) -> int:
    """Whole seconds, rounded up: arriving early would only waste a receive."""
    return max(0, min(MAX_DELAY_SECONDS, math.ceil(wait)))


class SqsTaskQueue:
    """Collects tasks during a batch and sends them ten at a time, with one request each."""

    def __init__(self, queue_url: Callable[[], str] = config.task_queue_url):
        self._queue_url = queue_url
        self._pending: list[tuple[dict[str, Any], int]] = []

    def enqueue(self, task: dict[str, Any], delay: float = 0) -> None:
        self._pending.append((task, delay_seconds(delay)))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), 10):
            chunk = pending[start:start + 10]
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(task, separators=(",", ":")), "DelaySeconds": delay}
                for i, (task, delay) in enumerate(chunk)
            ]
            response = aws.client("sqs").send_message_batch(QueueUrl=self._queue_url(), Entries=entries)
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
