"""HTTP edge: maps requests to services and typed errors to JSON responses, in one place."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from chalice import Response

from chalicelib import config, wiring
from chalicelib.adapters.queues import queue_depths
from chalicelib.errors import PermanentError
from chalicelib.services.queries import BadRequest, order_view, parse_list_params, summary_view

# Amazon order ids: 3-7-7 digits; we accept a little wider (other channels use other shapes).
_ORDER_ID = re.compile(r"^[A-Za-z0-9-]{5,40}$")


def error(status: int, code: str, message: str) -> Response:
    return Response(body={"error": code, "message": message}, status_code=status,
                    headers={"Content-Type": "application/json"})


def get_order(order_id: str) -> Response | dict[str, Any]:
    if not _ORDER_ID.match(order_id or ""):
        return error(400, "BadRequest", "orderId must be 5–40 letters, digits or hyphens, like 028-1234567-1234567")
    found = wiring.orders().get(order_id)
    if found is None:
        return error(404, "NotFound", f"no order {order_id} has been received")
    return order_view(found[0])


def list_orders(params: dict[str, str]) -> Response | dict[str, Any]:
    try:
        query = parse_list_params(params, [s["seller_id"] for s in wiring.state().sellers()])
        orders, cursor = wiring.orders().list(**query)
    except (BadRequest, PermanentError) as exc:
        return error(400, "BadRequest", str(exc))
    return {"orders": [summary_view(o) for o in orders], "nextToken": cursor}


def list_failures(params: dict[str, str]) -> Response | dict[str, Any]:
    queue = params.get("queue")
    queues = ["intake", "tasks"] if not queue else [queue]
    if queue and queue not in ("intake", "tasks"):
        return error(400, "BadRequest", "queue must be 'intake' or 'tasks'")
    try:
        limit = int(params.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        return error(400, "BadRequest", "limit must be a whole number from 1 to 100")
    try:
        results = []
        cursor = None
        for name in queues:
            failures, next_cursor = wiring.state().list_failures(name, limit=limit,
                                                                 cursor=params.get("nextToken") if queue else None)
            results += [f.to_dict() for f in failures]
            cursor = next_cursor if queue else None
    except PermanentError as exc:
        return error(400, "BadRequest", str(exc))
    results.sort(key=lambda f: f["last_seen"], reverse=True)
    return {"failures": results[:limit] if not queue else results, "nextToken": cursor}


def health() -> dict[str, Any]:
    depths = queue_depths([("intake", config.intake_queue_url()), ("intake_dead_letter", config.intake_dlq_url()),
                           ("tasks", config.task_queue_url()), ("tasks_dead_letter", config.task_dlq_url())])
    dead = depths["intake_dead_letter"]["visible"] + depths["tasks_dead_letter"]["visible"]
    return {
        "status": "ok" if dead == 0 else "attention",
        "time": datetime.now(timezone.utc).isoformat(),
        "queues": {"intake": depths["intake"], "tasks": depths["tasks"]},
        "deadLetters": {"intake": depths["intake_dead_letter"]["visible"], "tasks": depths["tasks_dead_letter"]["visible"]},
        "lastNotification": wiring.state().last_intake(),
        "schedules": wiring.state().runs(),
    }
