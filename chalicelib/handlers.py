"""What each queue record, schedule and request does, between the entry points in app.py and
the flows in the registry. Kept out of app.py so that file stays a table of contents."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib import registry, resources
from chalicelib.core import wiring
from chalicelib.core.batch import process_batch
from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.flow import Route, Schedule
from chalicelib.core.http import respond
from chalicelib.core.observability import logger
from chalicelib.core.tasks import Task, handle_retry
from chalicelib.core.times import now


def intake_batch(event: dict[str, Any]) -> dict[str, Any]:
    """SP-API notifications → every flow that consumes them."""
    from chalicelib.core.intake import handle_message

    seen: list[str] = []
    sellers: dict[str, set[str]] = {}

    def handle(record: Any) -> str:
        handled = handle_message(record.body, registry.consumers_of, now())
        n = handled.notification
        logger().set_correlation_id(n.notification_id)
        logger().info("notification handled", extra={
            "notification_type": n.notification_type, "notification_id": n.notification_id,
            "seller_id": n.seller_id, "outcome": handled.outcome.value})
        seen.append(n.notification_type)
        if n.seller_id:
            sellers.setdefault(n.seller_id, set()).update(handled.marketplace_ids)
        return handled.outcome.value

    def after() -> None:
        wiring.task_queue().flush()
        if seen:
            wiring.state().record_intake(now(), seen[-1], len(seen))
        if sellers:
            wiring.state().note_sellers(sellers)

    try:
        return process_batch(event, resources.INTAKE.suffix, handle, wiring.state, after)
    finally:
        wiring.task_queue().discard()


def task_batch(queue: resources.Queue, event: dict[str, Any]) -> dict[str, Any]:
    """Tasks of the kinds that travel on `queue` → the flow that runs them. A task that must
    wait (its rate-limit slot, a transient failure) goes back to its queue with a delay."""
    kinds = registry.kinds_on(queue)
    tasks = wiring.task_queue()

    def handle(record: Any) -> str:
        task = Task.from_json(record.body)
        kind = kinds.get(task.kind)
        if kind is None:
            raise PermanentError(f"unknown task {task.kind[:60]!r} on the {queue.suffix} queue")
        logger().set_correlation_id(f"{task.kind}/{task.seller_id}/{task.key}")
        try:
            result = kind.run(task, kind.ports(), now())
        except RetryLater as wait:
            outcome = handle_retry(task, wait, tasks)
            logger().info("task returned to the queue", extra={
                "task": task.kind, "reason": wait.reason, "delay_seconds": round(wait.delay_seconds, 3)})
            return f"{task.kind}.{outcome.value}"
        logger().info("task done", extra={"task": task.kind, "key": task.key, "outcome": result.outcome.value,
                                          **dict(result.facts)})
        return f"{task.kind}.{result.outcome.value}"

    try:
        return process_batch(event, queue.suffix, handle, wiring.state, tasks.flush)
    finally:
        tasks.discard()


def scheduled(schedule: Schedule) -> Callable[[Any], dict[str, Any]]:
    """The Lambda handler of one schedule: run it, send the tasks it queued, remember the run."""
    def run(event: Any) -> dict[str, Any]:
        at = now()
        try:
            result = dict(schedule.run(at))
            wiring.task_queue().flush()
        finally:
            wiring.task_queue().discard()
        wiring.state().record_run(schedule.name, at, result)
        logger().info("schedule ran", extra={"schedule": schedule.name, **result})
        return result

    run.__name__ = run.__qualname__ = schedule.name  # Chalice names the function (and its Lambda) after it
    return run


def view(route: Route, current_request: Callable[[], Any]) -> Callable[..., Any]:
    """The Chalice view of a route: the flow's view with the request, errors in the one shape."""
    def serve(**uri_params: Any) -> Any:
        return respond(route.view, current_request(), **uri_params)

    serve.__name__ = serve.__qualname__ = route.name
    return serve

