"""The routes every deployment has, whatever its flows: failures, health and this API's OpenAPI
document. Declared as a flow so the registry lists them with the others."""
from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib import config, resources
from chalicelib.core.flow import Flow, Route
from chalicelib.core.http import BadRequest, query
from chalicelib.core.openapi import error_response
from chalicelib.core.times import now

QUEUE_NAMES = [q.suffix for q in resources.QUEUES]


def list_failures(request: Any) -> dict[str, Any]:
    from chalicelib.core import wiring

    params = query(request)
    queue = params.get("queue")
    if queue and queue not in QUEUE_NAMES:
        raise BadRequest(f"queue must be one of {', '.join(repr(q) for q in QUEUE_NAMES)}")
    try:
        limit = int(params.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        raise BadRequest("limit must be a whole number from 1 to 100") from None
    results: list[dict[str, Any]] = []
    cursor = None
    for name in [queue] if queue else QUEUE_NAMES:
        failures, next_cursor = wiring.state().list_failures(name, limit=limit,
                                                             cursor=params.get("nextToken") if queue else None)
        results += [f.to_dict() for f in failures]
        cursor = next_cursor if queue else None
    results.sort(key=lambda f: f["last_seen"], reverse=True)
    return {"failures": results[:limit] if not queue else results, "nextToken": cursor}


def health(request: Any) -> dict[str, Any]:
    from chalicelib.core import wiring
    from chalicelib.core.queues import queue_depths

    urls = []
    for q in resources.QUEUES:
        urls += [(q.suffix, config.queue_url(q)), (f"{q.suffix}_dead_letter", config.dead_letter_url(q))]
    depths = queue_depths(urls)
    dead = {q.suffix: depths[f"{q.suffix}_dead_letter"]["visible"] for q in resources.QUEUES}
    return {
        "status": "ok" if not any(dead.values()) else "attention",
        "time": now().isoformat(),
        "queues": {q.suffix: depths[q.suffix] for q in resources.QUEUES},
        "deadLetters": dead,
        "lastNotification": wiring.state().last_intake(),
        "schedules": wiring.state().runs(),
    }


def openapi(request: Any) -> Response:
    from chalicelib import registry

    return Response(body=registry.openapi(), status_code=200, headers={"Content-Type": "application/json"})


FLOW = Flow(
    name="operations",
    summary="what failed and why, the deployment's health, and this API's description",
    routes=(
        Route("GET", "/failures", list_failures, "list_failures"),
        Route("GET", "/health", health, "health", needs_token=False),
        Route("GET", "/openapi.json", openapi, "openapi"),
    ),
    openapi_paths={
        "/failures": {"get": {
            "summary": "Messages that failed, with the reason; dead-lettered ones are flagged.",
            "parameters": [{"name": "queue", "in": "query", "schema": {"type": "string", "enum": QUEUE_NAMES}},
                           {"name": "limit", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                           {"name": "nextToken", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "Failures, newest first", "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"failures": {"type": "array", "items": {"$ref": "#/components/schemas/Failure"}},
                               "nextToken": {"type": "string", "nullable": True}}}}}},
                "400": error_response("Bad parameter"), "401": error_response("No bearer token"),
                "403": error_response("Wrong bearer token")}}},
        "/health": {"get": {"summary": "Queue depths, dead letters, last notification, last schedule runs.",
                            "security": [], "responses": {"200": {"description": "Health"}}}},
        "/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI"}}}},
    },
    openapi_schemas={
        "Failure": {"type": "object", "properties": {
            "message_id": {"type": "string"}, "queue": {"type": "string"}, "reason": {"type": "string"},
            "kind": {"type": "string", "enum": ["invalid", "unexpected"]},
            "first_seen": {"type": "string"}, "last_seen": {"type": "string"},
            "receive_count": {"type": "integer"}, "dead_lettered": {"type": "boolean"},
            "notification_type": {"type": "string", "nullable": True},
            "notification_id": {"type": "string", "nullable": True},
            "body_sha256": {"type": "string"}, "body_length": {"type": "integer"}}},
    },
)
