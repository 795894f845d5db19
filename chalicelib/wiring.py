"""Builds the ports each entry point needs, once per container, on first use."""
from __future__ import annotations

from functools import cache

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import DynamoBuyerData, DynamoOrders, DynamoState
from chalicelib.adapters.queues import SqsTaskQueue


@cache
def orders() -> DynamoOrders:
    return DynamoOrders()


@cache
def state() -> DynamoState:
    return DynamoState()


@cache
def task_queue() -> SqsTaskQueue:
    return SqsTaskQueue()


@cache
def intake_ports():
    from chalicelib.services.intake import IntakePorts

    return IntakePorts(orders=orders(), tasks=task_queue())


@cache
def task_ports():
    # SP-API (and its ~0.35 s import) only where Amazon is called.
    from chalicelib.adapters.limiter import DynamoRateLimiter
    from chalicelib.adapters.spapi import SpApiOrders
    from chalicelib.services.orders import TaskPorts

    return TaskPorts(orders=orders(), tasks=task_queue(), limiter=DynamoRateLimiter(), amazon=SpApiOrders(),
                     buyer_data=DynamoBuyerData(lambda: aws.client("kms")), poll_state=state())


def reset() -> None:
    """Tests: forget every adapter (and the table names they captured)."""
    from chalicelib.adapters import dynamodb

    for fn in (orders, state, task_queue, intake_ports, task_ports):
        fn.cache_clear()
    dynamodb.reset_models()
    aws.reset()
