"""The registry is the one table of flows: what it declares is what app.py, the handlers, the
OpenAPI document, the subscriptions and the IAM policy see."""
import json
import re
import subprocess
import sys

import pytest

from chalicelib import registry, resources, subscriptions
from chalicelib.core.envelope import parse_notification
from chalicelib.core.flow import Consumer, Flow, Route, TaskKind


def test_every_notification_type_a_flow_consumes_is_one_connect_subscribes_to():
    assert registry.consumed_types() <= set(subscriptions.ALL_TYPES)


def test_every_task_kind_travels_on_a_declared_queue():
    for kind, _task in registry.TASK_KINDS.items():
        assert registry.queue_of(kind) in resources.QUEUES
        assert kind in registry.kinds_on(registry.queue_of(kind))


def test_an_unknown_task_kind_has_no_queue():
    with pytest.raises(ValueError, match="no flow runs tasks of kind 'teleport'"):
        registry.queue_of("teleport")


def test_app_py_serves_exactly_the_registrys_routes_and_schedules():
    import app

    served = {(path, method): entry.view_name for path, methods in app.app.routes.items()
              for method, entry in methods.items()}
    views = {(r.path, r.method): r.name for r in registry.ROUTES}
    views |= {(r.path, "HEAD"): r.name for r in registry.ROUTES if r.method == "GET"}  # GETs answer HEAD
    assert {key: name for key, name in served.items() if not name.endswith("#405")} == views
    # Every other method of a route's path is answered, with a 405 in the API's error shape.
    paths = {r.path for r in registry.ROUTES}
    assert {key for key, name in served.items() if name.endswith("#405")} == {
        (path, method) for path in paths for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        if (path, method) not in views}
    schedules = {s.name for s in app.app.event_sources if type(s).__name__ == "ScheduledEventConfig"}
    assert schedules == {s.name for s in registry.SCHEDULES}
    queues = {s.name: s.queue for s in app.app.event_sources if type(s).__name__ == "SQSEventConfig"}
    assert set(queues) == {q.handler for q in resources.QUEUES}
    assert all(queues[q.handler].endswith(f"-{q.suffix}") for q in resources.QUEUES)
    for schedule in registry.SCHEDULES:  # Chalice's Lambda handler for a schedule is app.<name>
        assert callable(getattr(app, schedule.name))


def test_the_openapi_document_describes_every_route_and_nothing_else():
    described = {(path, method.upper()) for path, methods in registry.openapi()["paths"].items() for method in methods}
    def camel(path):  # Chalice's {order_id} is the document's {orderId}
        return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), path)

    served = {(camel(r.path), r.method) for r in registry.ROUTES}
    served |= {(path, "HEAD") for path, method in served if method == "GET"}  # a GET answers HEAD too
    assert described == served


def test_a_notification_goes_to_every_flow_that_consumes_it_and_report_types_pick_theirs():
    def consumer(kind, subtype=None):
        return Consumer(kind, lambda n, p, now: None, lambda: None, subtype)

    settlements = consumer("REPORT_PROCESSING_FINISHED", "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2")
    others = consumer("REPORT_PROCESSING_FINISHED", "GET_MERCHANT_LISTINGS_ALL_DATA")
    orders, stock = consumer("ORDER_CHANGE"), consumer("ORDER_CHANGE")
    saved = registry.CONSUMERS
    try:
        registry.CONSUMERS = (settlements, others, orders, stock)
        report = parse_notification(json.dumps({
            "notificationType": "REPORT_PROCESSING_FINISHED", "payload": {"reportProcessingFinishedNotification": {
                "sellerId": "S", "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"}},
            "notificationMetadata": {"notificationId": "r-1"}}))
        order = parse_notification(json.dumps({"NotificationType": "ORDER_CHANGE", "Payload": {},
                                                "NotificationMetadata": {"NotificationId": "o-1"}}))
        assert registry.consumers_of(report) == (settlements,)
        assert registry.consumers_of(order) == (orders, stock)
    finally:
        registry.CONSUMERS = saved


def test_two_flows_cannot_claim_the_same_task_kind_or_route():
    def run(task, ports, now):
        return None

    one = Flow("one", "", tasks=(TaskKind("k", run, lambda: None),), routes=(Route("GET", "/x", run, "x"),))
    two = Flow("two", "", tasks=(TaskKind("k", run, lambda: None),))
    with pytest.raises(ValueError, match="same task kind: k"):
        registry._check((one, two))
    with pytest.raises(KeyError, match="no queue 'nowhere'"):
        registry._check((Flow("three", "", tasks=(TaskKind("j", run, lambda: None, queue="nowhere"),)),))


def test_intake_never_loads_sp_api_or_fpdf():
    """The flows' declarations are imported with app.py: heavy modules stay inside the functions
    that call Amazon or render PDFs (the cold-start benchmark measures the cost)."""
    code = ("import sys, app, chalicelib.handlers, chalicelib.core.intake;"
            "print(sorted(m for m in ('sp_api', 'fpdf', 'httpx') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
