"""What each queue record and schedule does, between the Chalice entry points in app.py and
the services. Kept out of app.py so that file stays a table of contents."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib import config, wiring
from chalicelib.adapters.batch import process_batch
from chalicelib.errors import PermanentError, RetryLater
from chalicelib.observability import logger

# A task that keeps failing transiently (not waiting for its rate-limit slot) gives up here.
MAX_TASK_RETRIES = 50


def _now() -> datetime:
    return datetime.now(timezone.utc)


def intake_batch(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.services.intake import handle_message

    ports = wiring.intake_ports()
    seen: list[str] = []
    sellers: dict[str, set[str]] = {}

    def handle(record) -> str:
        handled = handle_message(record.body, ports, _now())
        n = handled.notification
        logger().set_correlation_id(n.notification_id)
        logger().info("notification handled", extra={
            "notification_type": n.notification_type, "notification_id": n.notification_id,
            "seller_id": n.seller_id, "outcome": handled.outcome.value})
        seen.append(n.notification_type)
        if n.seller_id:
            marketplace = handled.marketplace_id
            sellers.setdefault(n.seller_id, set()).update([marketplace] if marketplace else [])
        return handled.outcome.value

    def after() -> None:
        ports.tasks.flush()
        if seen:
            wiring.state().record_intake(_now(), seen[-1], len(seen))
        if sellers:
            wiring.state().note_sellers(sellers)

    try:
        return process_batch(event, "intake", handle, wiring.state, after)
    finally:
        ports.tasks.discard()


def _task_handlers():
    from chalicelib.services import orders

    overlap = timedelta(seconds=config.order_poll_overlap_seconds())
    return {
        orders.FETCH_ORDER: orders.fetch_order_details,
        orders.POLL_ORDERS: lambda task, ports, now: orders.poll_orders(task, ports, now, overlap),
    }


def task_batch(event: dict[str, Any]) -> dict[str, Any]:
    ports = wiring.task_ports()
    handlers = _task_handlers()

    def handle(record) -> str:
        try:
            task = json.loads(record.body)
        except ValueError:
            raise PermanentError("task message is not JSON") from None
        if not isinstance(task, dict) or task.get("task") not in handlers:
            raise PermanentError(f"unknown task {str(task.get('task') if isinstance(task, dict) else task)[:60]!r}")
        logger().set_correlation_id(task.get("order_id") or f"{task.get('seller_id')}/{task.get('marketplace_id')}")
        try:
            result = handlers[task["task"]](task, ports, _now())
        except RetryLater as exc:
            waiting_for_slot = "slot" in task
            retries = task.get("retries", 0) + (0 if waiting_for_slot else 1)
            if retries > MAX_TASK_RETRIES:
                raise PermanentError(f"gave up after {MAX_TASK_RETRIES} retries: {exc.reason}") from None
            ports.tasks.enqueue({**task, "retries": retries}, delay=exc.delay_seconds)
            logger().info("task returned to the queue", extra={
                "task": task["task"], "reason": exc.reason, "delay_seconds": round(exc.delay_seconds, 3)})
            return "throttled" if waiting_for_slot else "retried"
        logger().info("task done", extra={"task": task["task"], "order_id": task.get("order_id"), "result": result})
        return result.split(" ")[0]

    try:
        return process_batch(event, "tasks", handle, wiring.state, ports.tasks.flush)
    finally:
        ports.tasks.discard()


def poll_orders_schedule() -> dict[str, Any]:
    from chalicelib.services.orders import schedule_polls

    now = _now()
    queued = schedule_polls(wiring.state(), wiring.task_queue(), now,
                            first_window=timedelta(days=config.first_poll_window_days()))
    wiring.task_queue().flush()
    result = {"queued": queued}
    wiring.state().record_run("poll_orders", now, result)
    logger().info("backstop poll scheduled", extra=result)
    return result
