"""The routes every deployment has, whatever its flows: failures, health and this API's OpenAPI
document. Declared as a flow so the registry lists them with the others."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Response

from chalicelib import config, resources
from chalicelib.core.flow import Flow, Route
from chalicelib.core.http import BadRequest, Forbidden, only, query, whole_number
from chalicelib.core.openapi import DATE_TIME, LIMIT, NEXT_TOKEN, errors, json_response, nullable, read, strict
from chalicelib.core.times import now

QUEUE_NAMES = [q.suffix for q in resources.QUEUES]


def camel(record: Mapping[str, Any]) -> dict[str, Any]:
    """snake_case keys → camelCase, as every answer of this API spells them."""
    def key(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {key(k): (camel(v) if isinstance(v, Mapping) else v) for k, v in record.items()}


def list_failures(request: Any) -> dict[str, Any]:
    """Failures, the newest message first, of one queue or of all of them merged; every page
    reachable through nextToken."""
    from chalicelib.core import pages, wiring
    from chalicelib.core.auth import principal

    if principal(request).sellers is not None:
        # A failure may be any seller's (or no seller's: it could not be read): all or nothing.
        raise Forbidden("a token limited to some sellers cannot read failures, which are every seller's")
    params = query(request)
    only(params, {"queue", "limit", "nextToken"})
    queue = params.get("queue")
    if queue is not None and queue not in QUEUE_NAMES:
        raise BadRequest(f"queue must be one of {', '.join(QUEUE_NAMES)}")
    limit = whole_number(params, "limit", 50, 1, 100)
    names = [queue] if queue else QUEUE_NAMES
    bound_to = {"route": "list_failures", "queues": names}
    # Where each queue's listing stands: the sort key of the last failure shown, or None before
    # the first; a queue whose failures were all shown is left out.
    position = pages.open_(params.get("nextToken"), bound_to) or dict.fromkeys(names)
    if not isinstance(position, dict):
        raise BadRequest("nextToken is not one this API returned for this query")
    candidates: list[tuple[str, str, Any]] = []
    more: dict[str, bool] = {}
    for name in names:
        if name not in position:
            continue
        found, more[name] = wiring.state().list_failures(name, limit=limit, after=position[name])
        candidates += [(sort_key, name, failure) for sort_key, failure in found]
    candidates.sort(key=lambda item: item[0], reverse=True)
    shown = candidates[:limit]
    following = dict(position)
    for sort_key, name, _ in shown:
        following[name] = sort_key
    for name in list(following):
        left = [c for c in candidates[limit:] if c[1] == name]
        if name in more and not more[name] and not left:
            del following[name]  # every failure of this queue has been shown
    return {"failures": [camel(failure.to_dict()) for _, _, failure in shown],
            "nextToken": pages.seal(following, bound_to) if following else None}


def health(request: Any) -> dict[str, Any]:
    """The open route: served from a per-container cache (HEALTH_CACHE_SECONDS, 15 s), so no
    caller, however fast, makes this deployment ask AWS more than once per period; `time` says
    when the answer was read."""
    from chalicelib.core import wiring

    return wiring.health().get()


def read_health() -> dict[str, Any]:
    from chalicelib import registry
    from chalicelib.core import wiring
    from chalicelib.core.queues import queue_depths

    urls = []
    for q in resources.QUEUES:
        urls += [(q.suffix, config.queue_url(q)), (f"{q.suffix}_dead_letter", config.dead_letter_url(q))]
    depths = queue_depths(urls)
    dead = {q.suffix: depths[f"{q.suffix}_dead_letter"]["visible"] for q in resources.QUEUES}
    last = wiring.state().last_intake()
    admission = wiring.admission()
    return {
        "status": "ok" if not any(dead.values()) else "attention",
        "time": now().isoformat(),
        "queues": {q.suffix: camel(depths[q.suffix]) for q in resources.QUEUES},
        "deadLetters": dead,
        "lastNotification": camel(last) if last else None,
        # Whether the intake checks ApplicationId (off until `infra.sellers set-app --application-id`).
        "applicationCheck": admission.application_check,
        "sellers": admission.seller_count,
        # Each flow's counts: what waits, what needs a person (shipments Amazon refused, ...).
        "flows": {flow.name: dict(flow.health()) for flow in registry.FLOWS if flow.health is not None},
        # Counts only: when each schedule last ran, and how much it did.
        "schedules": {name: {key: value for key, value in camel(run).items()
                             if key == "at" or (isinstance(value, int) and not isinstance(value, bool))}
                      for name, run in wiring.state().runs().items()},
    }


def openapi(request: Any) -> Response:
    from chalicelib import registry

    return Response(body=registry.openapi(), status_code=200, headers={"Content-Type": "application/json"})


FLOW = Flow(
    name="operations",
    summary="what failed and why, the deployment's health, and this API's description",
    routes=(
        Route("GET", "/failures", list_failures, "list_failures", scope="failures:read"),
        Route("GET", "/health", health, "health", needs_token=False),
        Route("GET", "/openapi.json", openapi, "openapi"),
    ),
    openapi_paths={
        "/failures": read({
            "operationId": "listFailures",
            "summary": "Messages that failed, the newest first, with the reason; dead-lettered ones are flagged.",
            "parameters": [{"name": "queue", "in": "query", "schema": {"type": "string", "enum": QUEUE_NAMES},
                            "description": "One queue's failures (default: every queue's, merged)"},
                           {"name": "limit", "in": "query", "schema": LIMIT},
                           {"name": "nextToken", "in": "query", "schema": NEXT_TOKEN}],
            "responses": {"200": json_response("Failures, newest first", strict({
                "failures": {"type": "array", "items": {"$ref": "#/components/schemas/Failure"}},
                "nextToken": nullable({"type": "string"})})),
                **errors(400)}}),
        "/health": read({
            "operationId": "health", "security": [],
            "summary": "Counts only: queue depths, dead letters, the last notification, the schedules' last runs.",
            "description": "Open to everyone, and cheap: each container reads the counts at most once every "
                           "15 seconds and serves that answer meanwhile (`time` says when it was read).",
            "responses": {"200": json_response("Health", {"$ref": "#/components/schemas/Health"})}}),
        "/openapi.json": read({
            "operationId": "openapi", "summary": "This document.",
            "responses": {"200": json_response("OpenAPI 3.0", {"type": "object", "required": ["openapi", "paths"]}),
                          **errors()}}),
    },
    openapi_schemas={
        "Failure": strict({
            "messageId": {"type": "string"}, "queue": {"type": "string", "enum": QUEUE_NAMES},
            "reason": {"type": "string", "description": "Why it failed, in words; never the message's content"},
            "kind": {"type": "string", "enum": ["invalid", "refused", "unexpected"],
                     "description": "invalid: can never succeed; refused: not ours (another SP-API application, "
                                    "or a seller not registered); unexpected: a bug or an outage, retried"},
            "firstSeen": DATE_TIME, "lastSeen": DATE_TIME,
            "receiveCount": {"type": "integer", "minimum": 0}, "deadLettered": {"type": "boolean"},
            "notificationType": nullable({"type": "string"}), "notificationId": nullable({"type": "string"}),
            "bodySha256": nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"}),
            "bodyLength": nullable({"type": "integer", "minimum": 0})}),
        "Health": strict({
            "status": {"type": "string", "enum": ["ok", "attention"],
                       "description": "attention: a dead-letter queue holds messages"},
            "time": {**DATE_TIME, "description": "When these counts were read (at most 15 s ago)"},
            "queues": strict({q.suffix: {"$ref": "#/components/schemas/QueueDepth"} for q in resources.QUEUES}),
            "deadLetters": strict({q.suffix: {"type": "integer", "minimum": 0} for q in resources.QUEUES}),
            "applicationCheck": {"type": "boolean",
                                 "description": "false: the intake admits any SP-API application's notifications "
                                                "(set the deployment's with python -m infra.sellers set-app)"},
            "sellers": {"type": "integer", "minimum": 0, "description": "Sellers registered in this deployment"},
            "flows": {"type": "object", "description": "Each flow's counts, e.g. shipments: pending (orders whose "
                                                       "confirmation awaits Amazon), refused (orders whose latest "
                                                       "shipment Amazon refused: see GET /orders/{orderId}/shipments), "
                                                       "due (merchant orders to ship within the alert window, late "
                                                       "ones included) and late (see GET /shipments/due); fulfillment: "
                                                       "pending (MCF orders whose creation or cancellation is on its "
                                                       "way to Amazon)",
                      "additionalProperties": {"type": "object",
                                               "additionalProperties": {"type": "integer", "minimum": 0}}},
            "lastNotification": nullable(strict({
                "at": DATE_TIME, "notificationType": nullable({"type": "string"}),
                "batchSize": {"type": "integer", "minimum": 0}})),
            "schedules": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["at"], "properties": {"at": DATE_TIME},
                "additionalProperties": {"type": "integer"}}}}),
        "QueueDepth": strict({"visible": {"type": "integer", "minimum": 0},
                              "inFlight": {"type": "integer", "minimum": 0},
                              "delayed": {"type": "integer", "minimum": 0}}),
    },
)
