"""Plays the part of Lambda's SQS poller, which moto cannot run without Docker: receive a
batch, invoke the same Chalice handler with a Lambda-shaped event, delete only the records the
handler did not report as failed, and hand failed ones back at once (visibility 0) so that a
poison message reaches the dead-letter queue after maxReceiveCount receives, not 5 × 6 minutes."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any


def _lambda_context(name: str) -> Any:
    return SimpleNamespace(function_name=f"sellerops-local-{name}", memory_limit_in_mb=512,
                           invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:{name}",
                           aws_request_id=f"local-{time.time_ns()}", get_remaining_time_in_millis=lambda: 60_000)


@dataclass
class QueueBinding:
    name: str
    url: str
    arn: str
    handler: Callable[[dict, Any], Any]


@dataclass
class Worker:
    sqs: Any
    region: str
    queues: list[QueueBinding]
    stats: dict[str, int] = field(default_factory=lambda: {"batches": 0, "records": 0, "failed_records": 0})

    def poll_once(self, binding: QueueBinding) -> int:
        response = self.sqs.receive_message(QueueUrl=binding.url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                            AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = response.get("Messages") or []
        if not messages:
            return 0
        event = {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": m.get("MD5OfBody"), "eventSource": "aws:sqs", "eventSourceARN": binding.arn,
            "awsRegion": self.region,
        } for m in messages]}
        try:
            result = binding.handler(event, _lambda_context(binding.name)) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # the whole invocation failed: Lambda would retry every record
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=binding.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if retry:
            self.sqs.change_message_visibility_batch(QueueUrl=binding.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(retry)])
        self.stats["batches"] += 1
        self.stats["records"] += len(messages)
        self.stats["failed_records"] += len(retry)
        return len(messages)

    def pending(self, only: str | None = None) -> int:
        total = 0
        for binding in self.queues:
            if only and binding.name != only:
                continue
            attrs = self.sqs.get_queue_attributes(QueueUrl=binding.url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            total += sum(int(v) for v in attrs.values())
        return total

    def drain(self, timeout: float = 600.0, on_progress: Callable[[], None] | None = None,
              only: str | None = None) -> bool:
        """Work until every queue (or just `only`) is empty, delayed messages included.
        False on timeout."""
        deadline = time.monotonic() + timeout
        bindings = [b for b in self.queues if only is None or b.name == only]
        while time.monotonic() < deadline:
            worked = sum(self.poll_once(b) for b in bindings)
            if on_progress:
                on_progress()
            if not worked:
                if self.pending(only) == 0:
                    return True
                time.sleep(0.05)  # only delayed or in-flight messages left: wait for them
        return False

    def run_forever(self, stop: Callable[[], bool]) -> None:
        while not stop():
            if not sum(self.poll_once(b) for b in self.queues):
                time.sleep(0.2)
