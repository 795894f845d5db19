"""What each queue record, schedule and request does, between the entry points in app.py and
the flows in the registry. Kept out of app.py so that file stays a table of contents."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib import registry, resources
from chalicelib.core import wiring
from chalicelib.core.batch import last_delivery, process_batch
from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.flow import Route, Schedule, TaskKind
from chalicelib.core.function import running
from chalicelib.core.http import JSON, BadRequest, Forbidden, PayloadTooLarge, error, respond
from chalicelib.core.observability import logger
from chalicelib.core.tasks import Task, handle_retry
from chalicelib.core.times import now


def intake_batch(event: dict[str, Any]) -> dict[str, Any]:
    """SP-API notifications → every flow that consumes them."""
    from chalicelib.core.intake import handle_message

    seen: list[str] = []
    sellers: dict[str, set[str]] = {}

    def handle(record: Any) -> str:
        handled = handle_message(record.body, registry.consumers_of, now(), wiring.admission().admit)
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
        wiring.task_queue().flush()  # an SQS outage fails the batch: it comes back, nothing is lost
        if seen:
            _bookkeeping("the intake's heartbeat", lambda: wiring.state().record_intake(now(), seen[-1], len(seen)))
        if sellers:
            _bookkeeping("the sellers' marketplaces", lambda: wiring.state().note_sellers(sellers))

    try:
        with running(resources.INTAKE.handler):
            return process_batch(event, resources.INTAKE.suffix, handle, wiring.state, after)
    finally:
        wiring.task_queue().discard()


def _bookkeeping(what: str, write: Callable[[], None]) -> None:
    """A write about the batch, not of a record: never a reason to fail the records (they were
    handled); logged by type, and the next batch writes it again."""
    try:
        write()
    except Exception as exc:  # noqa: BLE001
        logger().warning("batch bookkeeping failed", extra={"what": what, "error": type(exc).__name__})


def task_batch(queue: resources.Queue, event: dict[str, Any]) -> dict[str, Any]:
    """Tasks of the kinds that travel on `queue` → the flow that runs them. A task that must
    wait (its rate-limit slot, a transient failure) goes back to its queue with a delay."""
    kinds = registry.kinds_on(queue)
    tasks = wiring.task_queue()
    slots = wiring.slots()
    ahead = _tasks_in(event)
    slots.expect(ahead.values())

    def handle(record: Any) -> str:
        task = ahead.get(record.message_id) or Task.from_json(record.body)  # a record that is no task raises here
        kind = kinds.get(task.kind)
        if kind is None:
            raise PermanentError(f"unknown task {task.kind[:60]!r} on the {queue.suffix} queue")
        slots.started(task)
        logger().set_correlation_id(f"{task.kind}/{task.seller_id}/{task.key}")
        try:
            try:
                result = kind.run(task, kind.ports(), now())
            except RetryLater as wait:
                outcome = handle_retry(task, wait, tasks)  # past its retries: a PermanentError
                logger().info("task returned to the queue", extra={
                    "task": task.kind, "reason": wait.reason, "delay_seconds": round(wait.delay_seconds, 3)})
                return f"{task.kind}.{outcome.value}"
        except PermanentError as exc:
            _given_up(kind, task, exc.reason)
            raise
        except Exception as exc:
            if last_delivery(record, queue.suffix):
                _given_up(kind, task, f"unexpected {type(exc).__name__} on its last delivery: see the logs")
            raise
        logger().info("task done", extra={"task": task.kind, "key": task.key, "outcome": result.outcome.value,
                                          **dict(result.facts)})
        return f"{task.kind}.{result.outcome.value}"

    try:
        with running(queue.handler):
            return process_batch(event, queue.suffix, handle, wiring.state, tasks.flush)
    finally:
        tasks.discard()
        _bookkeeping("unused rate-limit slots", slots.settle)


def _given_up(kind: TaskKind, task: Task, reason: str) -> None:
    """Tell the task's flow it is given up (TaskKind.given_up), as bookkeeping: the record's
    failure is recorded and raised whatever this does."""
    if kind.given_up is not None:
        hook = kind.given_up
        _bookkeeping(f"{task.kind} given up", lambda: hook(task, kind.ports(), reason, now()))


def _tasks_in(event: dict[str, Any]) -> dict[str, Task]:
    """The batch's tasks by message id, in order, read once and ahead so a rate-limit booking
    can cover the ones to come; a record that is not a task is left for its own turn to refuse."""
    found = {}
    for record in event.get("Records") or ():
        body = record.get("body") if isinstance(record, dict) else None
        if not isinstance(body, str):
            continue
        try:
            found[str(record.get("messageId"))] = Task.from_json(body)
        except PermanentError:
            continue
    return found


def scheduled(schedule: Schedule) -> Callable[[Any], dict[str, Any]]:
    """The Lambda handler of one schedule: run it, send the tasks it queued, remember the run."""
    def run(event: Any) -> dict[str, Any]:
        with running(schedule.name):
            return _run_schedule(schedule)

    run.__name__ = run.__qualname__ = schedule.name  # Chalice names the function (and its Lambda) after it
    return run


def _run_schedule(schedule: Schedule) -> dict[str, Any]:
    at = now()
    try:
        result = dict(schedule.run(at))
        wiring.task_queue().flush()
    finally:
        wiring.task_queue().discard()
    wiring.state().record_run(schedule.name, at, result)
    logger().info("schedule ran", extra={"schedule": schedule.name, **result})
    return result


def content_types(route: Route) -> list[str]:
    """What a route accepts as a body's Content-Type: JSON for a route that takes a body (else
    Chalice's 415, in our shape); anything for the others, which read no body."""
    if route.body_type is not None:
        return [route.body_type]
    return ["application/json"] if route.body_schema is not None else ["*/*"]


def view(route: Route, current_request: Callable[[], Any]) -> Callable[..., Any]:
    """The Chalice view of a route: the caller's scope checked again, the body read and checked
    against the route's schema, then (only then) an Idempotency-Key claimed and the view run;
    every error in the one shape, and a HEAD answered as its GET without the body."""
    def serve(**uri_params: Any) -> Any:
        with running(API_HANDLER):
            return _serve(route, current_request(), uri_params)

    serve.__name__ = serve.__qualname__ = route.name
    return serve


API_HANDLER = "api_handler"  # Chalice's name of the function every route runs in


def _serve(route: Route, request: Any, uri_params: dict[str, Any]) -> Any:
    method = str(getattr(request, "method", route.method)).upper()
    response = _as_response(respond(_checked_then_run, route, request, method, uri_params))
    if method == "HEAD":
        response = Response(body="", status_code=response.status_code, headers=response.headers)
    return response


def _checked_then_run(route: Route, request: Any, method: str, uri_params: dict[str, Any]) -> Any:
    from chalicelib.core.auth import principal

    who = principal(request)
    if route.needs_token and not who.may(route.scope):
        raise Forbidden(f"this token may not use {route.path} (it needs the {route.scope} scope)")
    arguments = dict(uri_params)
    if route.body_schema is not None:
        arguments["body"] = _body(route, request)  # refused here, nothing is claimed or written
    elif route.body_type is not None:
        arguments["body"] = _text(route, request)

    def run() -> Response:
        return _as_response(respond(route.view, request, **arguments))

    key = (getattr(request, "headers", None) or {}).get("idempotency-key")
    if method not in ("POST", "PUT", "PATCH", "DELETE") or not route.idempotent or key is None:
        return run()
    from chalicelib.core.idempotency import fingerprint, once

    # The request as sent: its method, route, path parameters, query and body.
    print_ = fingerprint(method, route.path, uri_params, getattr(request, "query_params", None) or {}, _raw(request))
    return once(wiring.state(), _caller(who), route.name, key, print_, run)


def _caller(who: Any) -> str:
    """Whose Idempotency-Keys these are: a named token's id (names need not be unique), or root."""
    return str(who.token_id or who.name)


def method_not_allowed(path: str, allowed: list[str]) -> Callable[..., Any]:
    """The view of every method a path does not take: 405, naming those it takes."""
    def refuse(**uri_params: Any) -> Response:
        return error(405, "MethodNotAllowed", f"{path} takes {', '.join(allowed)}",
                     headers={"Allow": ", ".join(allowed)})

    refuse.__name__ = refuse.__qualname__ = "not_allowed_" + "".join(c if c.isalnum() else "_" for c in path)
    return refuse


def _raw(request: Any) -> bytes:
    raw = getattr(request, "raw_body", b"") or b""
    return raw if isinstance(raw, bytes) else str(raw).encode()


def _sized(route: Route, request: Any) -> bytes:
    """The body, refused when it is larger than the route takes."""
    raw = _raw(request)
    if len(raw) > route.max_body_bytes:
        raise PayloadTooLarge(f"the body may be at most {route.max_body_bytes} bytes")
    return raw


def _body(route: Route, request: Any) -> Any:
    from chalicelib.core.schema import SchemaError, validate

    raw = _sized(route, request)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant) if raw else None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the body is not JSON (NaN and Infinity are not JSON either)") from None
    if body is None:
        raise BadRequest("this route needs a JSON body")
    assert route.body_schema is not None
    try:
        validate(body, route.body_schema, registry.openapi()["components"]["schemas"])
    except SchemaError as problem:
        raise BadRequest(f"the body does not match the route's schema: {problem}",
                         details={"field": problem.path}) from None
    return body


def _text(route: Route, request: Any) -> str:
    try:
        return _sized(route, request).decode("utf-8-sig")  # a spreadsheet's byte-order mark is not part of the text
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _as_response(value: Any) -> Response:
    return value if isinstance(value, Response) else Response(body=value, status_code=200, headers=dict(JSON))
