"""What the benchmarks share: a quiet environment, the local stack, the scenario's well-formed
ORDER_CHANGE messages, a botocore call counter, and the report line."""
from __future__ import annotations

import os
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any


def quiet_environment() -> None:
    """Before anything from chalicelib is imported: no log lines below ERROR, no EMF metrics."""
    os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ.setdefault("SELLEROPS_STAGE", "local")
    warnings.filterwarnings("ignore")
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("infra.local.stack").setLevel(logging.ERROR)


def start_runtime(world: dict[str, Any], rate_scale: float = 1.0):
    """The embedded stack (moto server, Amazon simulator, worker) in this process."""
    quiet_environment()
    from infra.local.runtime import LocalRuntime

    # The benchmarks decide themselves whether moto's SQS is patched (see infra/local/moto_speedups.py).
    return LocalRuntime.start(world, rate_scale=rate_scale, fast_sqs=False)


def order_change_bodies(messages: list[str]) -> list[str]:
    """Only the well-formed ORDER_CHANGE bodies, in delivery order, duplicates included."""
    from chalicelib.core.envelope import parse_notification
    from chalicelib.core.errors import InvalidNotification, PermanentError
    from chalicelib.flows.orders.parsing import ORDER_CHANGE, parse_order_change

    kept = []
    for body in messages:
        try:
            notification = parse_notification(body)
            if notification.notification_type != ORDER_CHANGE:
                continue
            parse_order_change(notification)
        except (InvalidNotification, PermanentError, ValueError):
            continue
        kept.append(body)
    return kept


def binding(runtime, name: str):
    return next(b for b in runtime.worker.queues if b.name == name)


def queue_pending(runtime, queue_binding) -> int:
    attrs = runtime.worker.sqs.get_queue_attributes(QueueUrl=queue_binding.url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return sum(int(v) for v in attrs.values())


def drain_one_queue(runtime, queue_binding, timeout: float = 600.0) -> bool:
    """Work one queue (and only that one) until it is empty. False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runtime.worker.poll_once(queue_binding):
            continue
        if queue_pending(runtime, queue_binding) == 0:
            return True
        time.sleep(0.02)
    return False


class ApiCallCounter:
    """Counts botocore API calls (`BaseClient._make_api_call`, which boto3 clients and PynamoDB
    both go through) and HTTP attempts (retries included), only in threads while `counting()` is
    on: the worker's own SQS receive/delete calls, and the moto server's threads, stay out."""

    def __init__(self, meter: Any = None) -> None:
        self.meter = meter  # a bench.capacity.CapacityMeter: DynamoDB's request units as well
        self.calls: Counter[str] = Counter()
        self.by_target: Counter[str] = Counter()  # operation and DynamoDB table / SQS queue
        self.attempts = 0
        self.handler_seconds = 0.0  # wall time inside the wrapped handlers (Lambda's billed duration)
        # Each wrapped invocation: its function, memory (GB), wall time, and of it the AWS calls'
        # time and count (moto's time, and the meter's, not AWS's), and the requests to Amazon's
        # (SP-API and Login with Amazon: the simulator's time, not Amazon's): what
        # billed_gb_seconds prices.
        self.invocations: list[tuple[str, float, float, float, int, float, int]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._restore: list[Callable[[], None]] = []

    def _on(self) -> bool:
        return getattr(self._local, "on", False)

    def install(self) -> ApiCallCounter:
        from botocore.client import BaseClient
        from botocore.endpoint import Endpoint

        counter = self
        original_call, original_send = BaseClient._make_api_call, Endpoint._send

        def counting_call(client, operation_name, api_params):
            if not counter._on() or getattr(counter._local, "inside", False):
                return original_call(client, operation_name, api_params)
            name = f"{client.meta.service_model.service_name}:{operation_name}"
            target = api_params.get("TableName") or str(api_params.get("QueueUrl", "")).rsplit("/", 1)[-1]
            with counter._lock:
                counter.calls[name] += 1
                counter.by_target[f"{name} {target}".strip()] += 1
            started, counter._local.inside = time.perf_counter(), True
            try:
                if counter.meter is not None and name.startswith("dynamodb:"):
                    return counter.meter.around(original_call, client, operation_name, api_params)
                return original_call(client, operation_name, api_params)
            finally:
                counter._local.inside = False
                counter._spent("aws", time.perf_counter() - started)

        def counting_send(endpoint, request):
            if counter._on():
                with counter._lock:
                    counter.attempts += 1
            return original_send(endpoint, request)

        import httpx  # python-amazon-sp-api's HTTP client
        original_http = httpx.Client.send

        def timing_http(client, request, *args, **kwargs):
            if not counter._on():
                return original_http(client, request, *args, **kwargs)
            started = time.perf_counter()
            try:
                return original_http(client, request, *args, **kwargs)
            finally:
                counter._spent("amazon", time.perf_counter() - started)

        BaseClient._make_api_call = counting_call
        Endpoint._send = counting_send
        setattr(httpx.Client, "send", timing_http)  # noqa: B010  (a method replaced for the run)
        self._restore = [lambda: setattr(BaseClient, "_make_api_call", original_call),
                         lambda: setattr(Endpoint, "_send", original_send),
                         lambda: setattr(httpx.Client, "send", original_http)]
        return self

    def uninstall(self) -> None:
        for undo in self._restore:
            undo()
        self._restore = []

    @contextmanager
    def counting(self) -> Iterator[None]:
        self._local.on = True
        try:
            yield
        finally:
            self._local.on = False

    def _spent(self, on: str, seconds: float) -> None:
        spent = getattr(self._local, "spent", None)
        if spent is not None:
            spent[on] = (spent[on][0] + seconds, spent[on][1] + 1)

    @property
    def call_seconds(self) -> float:
        return sum(i[3] for i in self.invocations)

    @property
    def amazon_seconds(self) -> float:
        return sum(i[5] for i in self.invocations)

    @property
    def amazon_calls(self) -> int:
        return sum(i[6] for i in self.invocations)

    def wrap_queues(self, runtime: Any) -> None:
        """Wrap each queue consumer of the embedded stack's worker, as its own function."""
        from chalicelib import resources

        functions = {queue.suffix: queue.handler for queue in resources.QUEUES}
        for binding in runtime.worker.queues:
            binding.handler = self.wrap(binding.handler, functions[binding.name])

    def wrap(self, handler: Callable, function: str = "") -> Callable:
        """The handler, counting every call made while it runs, its invocations billed at
        its `function`'s memory (function_memory_mb)."""
        memory_mb = function_memory_mb(function)
        def counted(event, context):
            started = time.perf_counter()
            self._local.spent = {"aws": (0.0, 0), "amazon": (0.0, 0)}
            try:
                with self.counting():
                    return handler(event, context)
            finally:
                wall = time.perf_counter() - started
                (aws_s, aws_n), (amazon_s, amazon_n) = self._local.spent["aws"], self._local.spent["amazon"]
                self._local.spent = None
                with self._lock:
                    self.handler_seconds += wall
                    self.invocations.append((function, memory_mb / 1024, wall, aws_s, aws_n, amazon_s, amazon_n))
        return counted

    def billed_seconds(self, latency: tuple[float, float] | None = None) -> float:
        """The handlers' duration as Lambda would bill it: as measured (moto and the simulator
        answering in the process: moto slower than DynamoDB over the network, the simulator
        faster than Amazon), or with each AWS call and each request to Amazon taking `latency`
        = (AWS's, Amazon's) seconds instead."""
        return sum(self._billed(i, latency) for i in self.invocations)

    def billed_gb_seconds(self, latency: tuple[float, float] | None = None, function: str | None = None) -> float:
        """As billed_seconds, each invocation by its function's memory (of one function's only)."""
        return sum(i[1] * self._billed(i, latency) for i in self.invocations if function in (None, i[0]))

    @staticmethod
    def _billed(invocation: tuple[str, float, float, float, int, float, int],
                latency: tuple[float, float] | None) -> float:
        _, _, wall, aws_s, aws_n, amazon_s, amazon_n = invocation
        if latency is None:
            return wall
        return wall - aws_s - amazon_s + aws_n * latency[0] + amazon_n * latency[1]

    @property
    def total(self) -> int:
        return sum(self.calls.values())


# eu-west-1 list prices, in dollars. DynamoDB on demand is billed per request unit (bench/capacity.py):
# AWS halved those prices in November 2024; EARLIER are the ones before, which the first cost
# targets were set against. Lambda: per request, and per GB-second of duration (x86).
PRICES = {"dynamodb:write": 0.7068e-6, "dynamodb:read": 0.1415e-6, "sqs": 0.40e-6, "kms": 3e-6,
          "s3:write": 5e-6, "s3:read": 0.4e-6, "lambda": 0.20e-6, "lambda:gb-second": 16.6667e-6}
EARLIER = {**PRICES, "dynamodb:write": 1.4135e-6, "dynamodb:read": 0.283e-6}


_DYNAMODB_READS = ("GetItem", "Query", "BatchGetItem", "Scan")


def price_requests(counts: Mapping[str, float], prices: dict[str, float], dynamodb: bool = True) -> float:
    """Counted calls ("service:Operation [target]") priced per request: S3 by PUT and GET, the rest
    at their service's price; DynamoDB a unit per request unless `dynamodb` is False (metered)."""
    dollars = 0.0
    for name, count in counts.items():
        service, operation = name.split(" ", 1)[0].split(":", 1)
        if service == "dynamodb":
            if dynamodb:
                dollars += count * prices["dynamodb:read" if operation in _DYNAMODB_READS else "dynamodb:write"]
        elif service == "s3":
            dollars += count * prices["s3:write" if operation.startswith(("Put", "Create", "Upload", "Complete"))
                                      else "s3:read"]
        elif service in prices:
            dollars += count * prices[service]
    return dollars


def function_memory_mb(function: str) -> int:
    """The memory a function is deployed with: a queue's consumer its declared memory
    (chalicelib/resources.py), any other the project's default (.chalice/config.json)."""
    from chalicelib import resources

    declared = {queue.handler: queue.memory_mb for queue in resources.QUEUES}
    return declared.get(function, 512)


def list_price(counter: ApiCallCounter, prices: dict[str, float] = PRICES, invocations: float = 0,
               units: bool = True, only: Callable[[str], bool] | None = None,
               latency: tuple[float, float] | None = None) -> float:
    """What the counted requests cost: DynamoDB by its request units when the counter has a
    meter and `units` holds (per request otherwise), the rest per request; plus the Lambda
    invocations given and, with units, the handlers' duration by their memory
    (ApiCallCounter.billed_gb_seconds).
    `only` keeps the requests (and tables) it accepts, and leaves Lambda out."""
    keep = only or (lambda target: True)
    metered = units and counter.meter is not None
    dollars = price_requests({k: v for k, v in counter.by_target.items() if keep(k)}, prices, dynamodb=not metered)
    if metered:
        dollars += sum(u for table, u in counter.meter.wru.items() if keep(table)) * prices["dynamodb:write"]
        dollars += sum(u for table, u in counter.meter.rru_by_table.items() if keep(table)) * prices["dynamodb:read"]
    if only is None:
        dollars += invocations * prices["lambda"]
        if units:
            dollars += counter.billed_gb_seconds(latency) * prices["lambda:gb-second"]
    return dollars


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "MISS")


def say(text: str) -> None:
    print(text, flush=True)

