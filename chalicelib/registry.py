"""The flows of this deployment, one line each. Everything that dispatches reads this table: the
intake handler (who consumes which notification), the task and work handlers (who runs which
task kind), app.py (the schedules and routes) and the OpenAPI document.

To add a flow: give it a folder under chalicelib/flows/ with a `FLOW` declaration (see
chalicelib/core/flow.py and the README's "How to add a flow"), and add it to FLOWS.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from chalicelib import resources
from chalicelib.core import api
from chalicelib.core.envelope import Notification, subtype
from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.core.openapi import document
from chalicelib.flows import fulfillment, invoices, orders, settlements, shipments, stock

FLOWS: tuple[Flow, ...] = (
    api.FLOW,
    orders.FLOW,
    shipments.FLOW,
    fulfillment.FLOW,
    invoices.FLOW,
    stock.FLOW,
    settlements.FLOW,
)


def _check(flows: tuple[Flow, ...]) -> None:
    kinds = [t.kind for f in flows for t in f.tasks]
    schedules = [s.name for f in flows for s in f.schedules]
    routes = [(r.method, r.path) for f in flows for r in f.routes]
    names = [r.name for f in flows for r in f.routes]
    checks: tuple[tuple[str, Sequence[object]], ...] = (
        ("task kind", kinds), ("schedule", schedules), ("route", routes), ("route name", names))
    for what, values in checks:
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"two flows declare the same {what}: {', '.join(repeated)}")
    for task in (t for f in flows for t in f.tasks):
        resources.queue(task.queue)  # raises for a queue that is not declared


_check(FLOWS)

TASK_KINDS: dict[str, TaskKind] = {t.kind: t for f in FLOWS for t in f.tasks}
SCHEDULES: tuple[Schedule, ...] = tuple(s for f in FLOWS for s in f.schedules)
ROUTES: tuple[Route, ...] = tuple(r for f in FLOWS for r in f.routes)
CONSUMERS: tuple[Consumer, ...] = tuple(c for f in FLOWS for c in f.consumers)


def consumers_of(notification: Notification) -> tuple[Consumer, ...]:
    """The flows' consumers of a notification: by type, and by report or feed type for the
    processing-finished notifications."""
    kind = subtype(notification)
    return tuple(c for c in CONSUMERS if c.notification_type == notification.notification_type
                 and (c.subtype is None or c.subtype == kind))


def methods_by_path() -> dict[str, list[str]]:
    """Each route path and the methods it takes (a GET also answers HEAD)."""
    found: dict[str, list[str]] = {}
    for route in ROUTES:
        methods = found.setdefault(route.path, [])
        methods += [route.method] + (["HEAD"] if route.method == "GET" else [])
    return found


def consumed_types() -> set[str]:
    return {c.notification_type for c in CONSUMERS}


def queue_of(kind: str) -> resources.Queue:
    try:
        return resources.queue(TASK_KINDS[kind].queue)
    except KeyError:
        raise ValueError(f"no flow runs tasks of kind {kind!r}") from None


def kinds_on(queue: resources.Queue) -> dict[str, TaskKind]:
    return {kind: t for kind, t in TASK_KINDS.items() if t.queue == queue.suffix}


def schedule(name: str) -> Schedule:
    for candidate in SCHEDULES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no schedule {name!r}")


@cache
def openapi() -> dict[str, Any]:
    return document((dict(f.openapi_paths), dict(f.openapi_schemas)) for f in FLOWS)
