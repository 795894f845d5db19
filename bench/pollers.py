"""Playing Lambda's SQS poller for the benchmarks: the stack's own `Worker` in this process, or
extra poller processes (`python -m bench.pollers`), each one like a Lambda container with its
own imports, adapters and clients, working the same queues against the same moto server and
Amazon simulator. Real Lambda runs batches in parallel; one Python process with an in-process
moto server cannot, because of the GIL.

Every process that runs handlers also measures how late each rate-limited task came back
after its booked slot (`lateness`): if the pollers keep up, the limiter sets the pace and the
lateness stays near SQS's whole-second delay granularity.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any


def late_allowance(limiter, operation: str) -> float | None:
    """How late after its slot a task may still call before it books again, if the code says."""
    if hasattr(limiter, "lateness_allowed"):
        return limiter.lateness_allowed(operation)
    return None


class Instruments:
    """Measurements taken inside the process that runs the handlers."""

    def __init__(self) -> None:
        self.lateness: list[float] = []  # seconds between a booked slot and the call
        self.late_returns = 0  # tasks back too late after their slot, which book again
        self.busy = 0.0  # seconds spent in poll_once calls that returned work
        self.batches: Counter[str] = Counter()
        self.records: Counter[str] = Counter()

    def install(self) -> Instruments:
        from chalicelib.core.tasks import Slots

        original = Slots.take
        lateness = self.lateness
        instruments = self

        def measured(slots, task, operation, now):
            slot = task.slot.at if task.slot is not None and task.slot.operation == operation else None
            allowed = late_allowance(slots.limiter, operation)
            if slot is not None and allowed is not None and now - slot > allowed:
                instruments.late_returns += 1
            original(slots, task, operation, now)  # raises WaitForSlot until the slot is due
            if slot is not None:
                lateness.append(now - slot)

        setattr(Slots, "take", measured)  # noqa: B010 - mypy refuses to assign to a method
        return self

    def poll(self, worker, binding) -> int:
        started = time.perf_counter()
        count = worker.poll_once(binding)
        if count:
            self.busy += time.perf_counter() - started
            self.batches[binding.name] += 1
            self.records[binding.name] += count
        return count

    def to_dict(self) -> dict[str, Any]:
        from chalicelib.core.observability import OUTCOMES

        return {"lateness": self.lateness, "late_returns": self.late_returns, "busy": self.busy,
                "batches": dict(self.batches), "records": dict(self.records), "outcomes": dict(OUTCOMES),
                "cpu": time.process_time()}


def clear_metrics_after(handler: Callable) -> Callable:
    """With POWERTOOLS_METRICS_DISABLED, Powertools' flush_metrics keeps the metric set, and
    add_metric prints an EMF line whenever one metric reaches 100 values. Clearing after each
    invocation keeps the benchmark's output readable; it changes nothing else."""
    def invoke(event, context):
        try:
            return handler(event, context)
        finally:
            from chalicelib.core.observability import metrics

            metrics().clear_metrics()
    return invoke


def work(worker, bindings, instruments: Instruments, stop: Callable[[], bool], idle_sleep: float = 0.1) -> None:
    while not stop():
        if not sum(instruments.poll(worker, b) for b in bindings):
            time.sleep(idle_sleep)


def _main(argv: list[str]) -> int:
    """A poller process: `python -m bench.pollers STOP_FILE RESULT_FILE`, environment from the
    parent (the stack's settings, as LocalRuntime.start exported them). Touches RESULT_FILE with
    the suffix .ready once it polls; works until STOP_FILE exists, then writes RESULT_FILE."""
    stop_file, result_file = Path(argv[0]), Path(argv[1])
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    import boto3

    import app
    from infra.local.worker import QueueBinding, Worker

    instruments = Instruments().install()
    sqs = boto3.client("sqs")

    def arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    from chalicelib import resources

    bindings = [QueueBinding(q.suffix, os.environ[q.url_env], arn(os.environ[q.url_env]),
                             clear_metrics_after(getattr(app, q.handler)))
                for q in resources.QUEUES]
    worker = Worker(sqs=sqs, region=os.environ.get("AWS_REGION", "us-east-1"), queues=bindings)
    result_file.with_suffix(".ready").touch()
    work(worker, bindings, instruments, stop_file.exists)
    result_file.write_text(json.dumps(instruments.to_dict()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
