"""Fuzz: whatever reaches a queue ends as success or a typed permanent error with a readable,
bounded reason, and nothing of the message's free text beyond a short quote.

The inputs are Amazon's own example notifications (tests/fixtures/spapi/notifications, as
published with their schemas), mutated: values replaced by other JSON (huge numbers, exponents,
long and odd strings, nesting, nulls), keys dropped or re-cased, ids made huge, money made odd,
and raw bodies (deep nesting, not JSON, not UTF-8). Each goes through the envelope parser and the
intake service of every flow that consumes it, on fakes that refuse what DynamoDB would refuse
(tests/fakes.py). Task bodies (the tasks and work queues) are fuzzed through Task.from_json.

SELLEROPS_FUZZ_EXAMPLES sets the inputs per test (default 10,000: 20,000 in all, under a minute).
"""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import registry
from chalicelib.core.errors import PermanentError
from chalicelib.core.flow import Consumer
from chalicelib.core.intake import handle_message
from chalicelib.core.tasks import Task
from tests.fakes import FakeFulfillmentOrders, FakeOrders, FakeStock, FakeTasks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "spapi" / "notifications"
EXAMPLES = [example for p in sorted(FIXTURES.glob("*.json"))
            for example in (json.loads(p.read_text(encoding="utf-8")).get("examples") or [])[:1]]
ORDER_CHANGE = next(e for e in EXAMPLES if e.get("NotificationType") == "ORDER_CHANGE")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SCALE = int(os.environ.get("SELLEROPS_FUZZ_EXAMPLES", "10000"))
MARKER = "Q" * 8 + "marker-from-the-message" + "Z" * 40  # free text a reason must never repeat
REASON_LIMIT = 300

# Values a mutation puts in place of another: the shapes the audit found, and then some.
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", " ", "1e3", "12.345", "1e26", "-0", "NaN", "Infinity", "XYZ", "NOT_PRIME",
                     "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+14:00", "2026-13-45T99:99:99Z",
                     "A" * 1100, "é" * 700, "\x00", MARKER, "[" * 990, "123-4567890-1234567" * 100]),
    st.sampled_from([300, 995, 5000]).map(lambda n: json.loads("[" * min(n, 900) + "]" * min(n, 900))),
    st.text(max_size=60),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _set(document[head], tuple(rest), value)
    return copy


def _drop(document: Any, path: tuple) -> Any:
    if not path:
        return document
    head, *rest = path
    if not rest:
        if isinstance(document, dict):
            return {k: v for k, v in document.items() if k != head}
        return [v for i, v in enumerate(document) if i != head]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _drop(document[head], tuple(rest))
    return copy


@st.composite
def mutated(draw) -> str | bytes:
    kind = draw(st.sampled_from(["example", "example", "example", "order", "order", "order", "raw"]))
    if kind == "raw":
        return draw(st.one_of(
            st.binary(max_size=200), st.text(max_size=200),
            st.sampled_from([10, 500, 989, 990, 1000, 3000, 100_000]).map(lambda n: "[" * n + "]" * n),
            st.sampled_from([10, 990, 3000]).map(lambda n: '{"a":' * n + "1" + "}" * n),
            st.just('{"NotificationType": "ORDER_CHANGE", "Payload": {"SellerId": "A1", '
                    '"OrderChangeNotification": "x"}}'),
        ))
    document = draw(st.sampled_from(EXAMPLES)) if kind == "example" else ORDER_CHANGE
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "replace", "drop", "recase"]))
        if action == "replace":
            document = _set(document, path, draw(ODD_VALUES))
        elif action == "drop" and path:
            document = _drop(document, path)
        elif action == "recase" and path and isinstance(path[-1], str):
            parent = path[:-1]
            value = document
            for step in parent:
                value = value[step]
            renamed = {(k.lower() if k == path[-1] else k): v for k, v in value.items()}
            document = _set(document, parent, renamed)
    return json.dumps(document)


def _consumers(orders: FakeOrders, tasks: FakeTasks):
    """The registry's consumers, each on its flow's fakes."""
    from chalicelib.flows.fulfillment import service as fulfillment
    from chalicelib.flows.invoices import service as invoices
    from chalicelib.flows.orders.service import IntakePorts
    from chalicelib.flows.stock import service as stock

    ports = {"chalicelib.flows.orders.service": lambda: IntakePorts(orders, tasks),
             "chalicelib.flows.fulfillment.service":
                 lambda: fulfillment.IntakePorts(FakeFulfillmentOrders(strict=True), tasks),
             "chalicelib.flows.invoices.service": lambda: invoices.IntakePorts(tasks),
             "chalicelib.flows.stock.service": lambda: stock.IntakePorts(FakeStock(), tasks)}

    def consumers_of(notification):
        return [Consumer(c.notification_type, c.handle, ports[c.handle.__module__], c.subtype)
                for c in registry.consumers_of(notification)]
    return consumers_of


def assert_readable(reason: str, body: str | bytes) -> None:
    assert isinstance(reason, str) and reason.strip(), "a reason says something"
    assert len(reason) <= REASON_LIMIT, f"reason of {len(reason)} characters: {reason[:120]}"
    assert MARKER[:41] not in reason, f"the reason quotes more than 40 characters of the message: {reason}"


@settings(max_examples=SCALE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(mutated())
def test_every_notification_ends_handled_or_as_a_typed_readable_refusal(body):
    orders, tasks = FakeOrders(strict=True), FakeTasks(strict=True)
    try:
        handled = handle_message(body, _consumers(orders, tasks), NOW)
    except PermanentError as refused:
        assert_readable(refused.reason, body)
        return
    assert handled.outcome is not None
    assert all(isinstance(m, str) for m in handled.marketplace_ids)
    if handled.notification.seller_id is not None:
        assert isinstance(handled.notification.seller_id, str) and len(handled.notification.seller_id) <= 64


@settings(max_examples=SCALE, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.one_of(
    st.text(max_size=300),
    st.builds(lambda k, s, key, p, a: json.dumps({"kind": k, "seller_id": s, "key": key, "params": p, "attempt": a}),
              ODD_VALUES, ODD_VALUES, ODD_VALUES, ODD_VALUES, ODD_VALUES),
))
def test_every_task_body_parses_or_is_a_typed_readable_refusal(body):
    try:
        task = Task.from_json(body)
    except PermanentError as refused:
        assert_readable(refused.reason, body)
        return
    assert isinstance(task.kind, str) and isinstance(task.seller_id, str) and isinstance(task.key, str)
    assert len(task.to_json()) < 64 * 1024
