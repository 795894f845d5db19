"""Structured logs and metrics (Powertools), and a process-local tally of outcomes.

Log lines carry ids (notification, order, message) and outcomes, never message bodies:
bodies can hold personal data. The tally lets the local stack report what happened without
parsing metric output; in Lambda it is a few counters that die with the container.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib import config

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

OUTCOMES: Counter[str] = Counter()


@cache
def logger() -> Logger:
    from aws_lambda_powertools import Logger

    return Logger(service=config.SERVICE_NAME)


@cache
def metrics() -> Metrics:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=config.METRICS_NAMESPACE, service=config.SERVICE_NAME)


def count(queue: str, outcome: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    OUTCOMES[f"{queue}.{outcome}"] += 1
    # "tasks" and "fetch_order.done" → TasksFetchOrderDone
    name = "".join(part.title() for part in re.split(r"[._]", f"{queue}.{outcome}") if part)
    metrics().add_metric(name=name, unit=MetricUnit.Count, value=1)


def gauge(name: str, value: float, **dimensions: str) -> None:
    """A level measured now (orders due to ship, ...), in the service's namespace; with
    `dimensions` (seller="..."), a metric of its own beside the function's others."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if not dimensions:
        metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)
        return
    if is_metrics_disabled():  # single_metric does not ask (the local stack prints nothing)
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=config.METRICS_NAMESPACE,
                       default_dimensions={"service": config.SERVICE_NAME}) as metric:
        for key, dimension in sorted(dimensions.items()):
            metric.add_dimension(name=key, value=dimension)


def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:  # Chalice's MiddlewareFuncType
    """Chalice middleware for every handler: fresh log keys, metrics flushed at the end."""
    logger().clear_state()
    try:
        return get_response(event)
    finally:
        with warnings.catch_warnings():
            # A route that counts nothing is normal, not worth a warning per request.
            warnings.filterwarnings("ignore", message="No application metrics to publish")
            metrics().flush_metrics()
        # Disabled metrics (the local stack) are not cleared by the flush and would pile up.
        metrics().clear_metrics()
