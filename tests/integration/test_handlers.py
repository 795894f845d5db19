"""The Chalice handlers through chalice.test.Client, on moto: partial batch failures, failure
records, the task handler against the Amazon simulator, and the API's auth and errors."""
import json
import uuid

import pytest
from chalice.test import Client

from tests.builders import amazon_order, body, order_change
from tests.integration.conftest import API_TOKEN


@pytest.fixture(scope="module")
def app(aws_stack):
    import app as chalice_app

    return chalice_app.app


@pytest.fixture(scope="module", autouse=True)
def registered(aws_stack):
    """The builders' seller is one this deployment serves (make add-seller)."""
    from chalicelib.core import wiring

    wiring.state().put_seller("A2EUQ1WTGCTBG2", ["A1PA6795UKMFR9"])


@pytest.fixture
def client(app):
    with Client(app, stage_name="local") as c:
        yield c


def sqs_event(client, bodies, queue="intake"):
    event = client.events.generate_sqs_event(message_bodies=bodies, queue_name=f"sellerops-handlers-{queue}")
    for record in event["Records"]:
        record["messageId"] = str(uuid.uuid4())  # the test client gives every record the same id
    return event


def new_order_id():
    return f"305-{uuid.uuid4().int % 10**7:07d}-{uuid.uuid4().int % 10**7:07d}"


def test_a_batch_reports_only_its_malformed_record_as_failed_and_records_why(client, aws_stack):
    order_id = new_order_id()
    event = sqs_event(client, [body(order_change(order_id)), "definitely not json"])
    bad_id = event["Records"][1]["messageId"]
    response = client.lambda_.invoke("intake", event)
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    from chalicelib.core import wiring
    from chalicelib.flows.orders import wiring as orders_wiring

    found, _ = wiring.state().list_failures("intake", limit=100)
    failure = next(f for _, f in found if f.message_id == bad_id)
    assert failure.reason == "message body is not JSON" and failure.kind == "invalid"
    assert orders_wiring.orders().get(order_id) is not None


def test_intake_queues_a_details_fetch_for_a_new_order(client, aws_stack):
    order_id = new_order_id()
    client.lambda_.invoke("intake", sqs_event(client, [body(order_change(order_id))]))
    sqs = aws_stack.client("sqs")
    found = []
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=aws_stack.outputs["TaskQueueUrl"],
                                       MaxNumberOfMessages=10).get("Messages", [])
        found += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=aws_stack.outputs["TaskQueueUrl"], ReceiptHandle=m["ReceiptHandle"])
        if any(t.get("key") == order_id for t in found):
            break
    assert any(t["kind"] == "fetch_order" and t["key"] == order_id for t in found)


@pytest.fixture
def simulator(amazon_for):
    return amazon_for({"A2EUQ1WTGCTBG2": "Atzr|test"})


def test_the_task_handler_fetches_details_from_amazon_and_stores_them(client, simulator):
    order_id = new_order_id()
    simulator.upsert_order("A2EUQ1WTGCTBG2", amazon_order(order_id))
    client.lambda_.invoke("intake", sqs_event(client, [body(order_change(order_id))]))
    # A task as the first release queued it: it still runs after an upgrade.
    task = {"task": "fetch_order", "seller_id": "A2EUQ1WTGCTBG2", "order_id": order_id,
            "marketplace_id": "A1PA6795UKMFR9", "reason": "order changed"}
    response = client.lambda_.invoke("tasks", sqs_event(client, [json.dumps(task)], queue="tasks"))
    assert response.payload == {"batchItemFailures": []}
    from chalicelib.flows.orders import wiring as orders_wiring

    order, details_status, _ = orders_wiring.orders().get(order_id)
    assert str(order.details.grand_total) == "43.97 EUR"
    buyer = orders_wiring.task_ports().buyer_data
    assert buyer.get(order_id)["buyer"]["buyerName"] == "Erika Mustermann"
    assert simulator.stats()["getOrder"]["2xx"] == 1


def test_a_5xx_from_amazon_puts_the_task_back_instead_of_failing_it(client, simulator):
    order_id = new_order_id()
    simulator.upsert_order("A2EUQ1WTGCTBG2", amazon_order(order_id))
    simulator.inject_faults("getOrder", [503])
    from chalicelib.flows.orders.service import fetch_task

    task = fetch_task("A2EUQ1WTGCTBG2", order_id, "A1PA6795UKMFR9", "behind Amazon").to_json()
    client.lambda_.invoke("intake", sqs_event(client, [body(order_change(order_id))]))
    response = client.lambda_.invoke("tasks", sqs_event(client, [task], queue="tasks"))
    assert response.payload == {"batchItemFailures": []}
    from chalicelib.core.observability import OUTCOMES

    assert OUTCOMES["tasks.fetch_order.retried"] >= 1


def test_a_details_read_given_up_marks_the_order_with_why_so_the_next_change_reads_again(client, simulator):
    from dataclasses import replace

    from chalicelib.core import wiring
    from chalicelib.core.tasks import MAX_TASK_RETRIES
    from chalicelib.flows.orders import wiring as orders_wiring
    from chalicelib.flows.orders.rules import OrderStatus, first_read_queued
    from chalicelib.flows.orders.service import fetch_task

    order_id = new_order_id()
    simulator.upsert_order("A2EUQ1WTGCTBG2", amazon_order(order_id))
    client.lambda_.invoke("intake", sqs_event(client, [body(order_change(order_id))]))
    # its last retry: Amazon still answers 503
    task = replace(fetch_task("A2EUQ1WTGCTBG2", order_id, "A1PA6795UKMFR9", "order changed"),
                   attempt=MAX_TASK_RETRIES)
    simulator.inject_faults("getOrder", [503])
    event = sqs_event(client, [task.to_json()], queue="tasks")
    response = client.lambda_.invoke("tasks", event)
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    order, details_status, _ = orders_wiring.orders().get(order_id)
    assert details_status is None and order.details is None
    assert order.attention.reason.startswith("its details could not be read from Amazon: gave up after 50 retries")
    failure = [f for _, f in wiring.state().list_failures("tasks", limit=500)[0]
               if f.message_id == event["Records"][0]["messageId"]]
    assert failure and failure[0].reason.startswith("gave up after 50 retries")
    # the change after it no longer counts on that read: it queues its own
    assert not first_read_queued(replace(order, status=OrderStatus.SHIPPED), None, "a-later-notification")


def test_an_unexpected_error_gives_a_details_read_up_only_on_its_last_delivery(client, simulator, monkeypatch):
    from chalicelib.flows.orders import wiring as orders_wiring
    from chalicelib.flows.orders.amazon import SpApiOrders
    from chalicelib.flows.orders.service import fetch_task

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(SpApiOrders, "get_order", broken)
    order_id = new_order_id()
    client.lambda_.invoke("intake", sqs_event(client, [body(order_change(order_id))]))
    task = fetch_task("A2EUQ1WTGCTBG2", order_id, "A1PA6795UKMFR9", "order changed").to_json()
    for delivery, marked in (("1", False), ("5", True)):  # the tasks queue dead-letters at the 5th
        event = sqs_event(client, [task], queue="tasks")
        event["Records"][0]["attributes"]["ApproximateReceiveCount"] = delivery
        assert client.lambda_.invoke("tasks", event).payload["batchItemFailures"]
        attention = orders_wiring.orders().get(order_id)[0].attention
        assert (attention is not None) is marked
    assert attention.reason == ("its details could not be read from Amazon: unexpected ZeroDivisionError on its "
                                "last delivery: see the logs")


def test_a_search_page_reads_its_stored_orders_together_under_the_tasks_role(client, simulator):
    """The search door's page, through the tasks function as deployed (its IAM policy enforced):
    the orders it carries are read together, then their details saved."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.core.times import iso
    from chalicelib.flows.orders import wiring as orders_wiring
    from chalicelib.flows.orders.service import search_task

    placed = datetime.now(UTC) - timedelta(minutes=10)
    ids = [new_order_id() for _ in range(3)]
    for order_id in ids:
        raw = amazon_order(order_id, updated=iso(placed))
        raw["fulfillment"]["fulfilledBy"] = "AMAZON"
        simulator.upsert_order("A2EUQ1WTGCTBG2", raw)
    client.lambda_.invoke("intake", sqs_event(client, [body(order_change(order_id, fulfillment="AFN"))
                                                       for order_id in ids]))
    task = search_task("A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", placed - timedelta(minutes=1))
    response = client.lambda_.invoke("tasks", sqs_event(client, [task.to_json()], queue="tasks"))
    assert response.payload == {"batchItemFailures": []}
    assert simulator.stats()["searchOrders"]["2xx"] >= 1
    for order_id in ids:
        order, details_status, _ = orders_wiring.orders().get(order_id)
        assert order.details is not None and details_status is not None


def test_a_search_window_of_two_pages_reads_both_pages_from_amazon(client, simulator, aws_stack):
    """A window larger than a page: the next page repeats the first request with Amazon's token
    (the simulator refuses a token with other parameters), and every order is read."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.core.tasks import Task
    from chalicelib.core.times import iso
    from chalicelib.flows.orders import wiring as orders_wiring
    from chalicelib.flows.orders.service import SEARCH_DETAILS, search_task

    placed = datetime.now(UTC) - timedelta(days=3)  # a window of its own: no other test's orders
    ids = [new_order_id() for _ in range(101)]
    for minute, order_id in enumerate(ids):
        raw = amazon_order(order_id, updated=iso(placed + timedelta(seconds=minute)))
        raw["fulfillment"]["fulfilledBy"] = "AMAZON"
        simulator.upsert_order("A2EUQ1WTGCTBG2", raw)
    task = search_task("A2EUQ1WTGCTBG2", "A1PA6795UKMFR9", placed - timedelta(seconds=1))
    assert client.lambda_.invoke("tasks", sqs_event(client, [task.to_json()], queue="tasks")).payload == {
        "batchItemFailures": []}
    sqs, url = aws_stack.client("sqs"), aws_stack.outputs["TaskQueueUrl"]
    following = None
    for _ in range(20):
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            queued = Task.from_json(m["Body"])
            if queued.kind == SEARCH_DETAILS and queued.param("next_token"):
                following = queued
        if following is not None:
            break
    assert following is not None, "the first page queued the next"
    response = client.lambda_.invoke("tasks", sqs_event(client, [following.to_json()], queue="tasks"))
    assert response.payload == {"batchItemFailures": []}
    assert simulator.stats()["searchOrders"].get("4xx", 0) == 0
    for order_id in ids:
        assert orders_wiring.orders().get(order_id)[1] is not None, order_id


def test_routes_need_the_bearer_token_and_answer_json_errors(client, aws_stack):
    assert client.http.get("/health").status_code == 200
    wrong = client.http.get("/orders/305-0000000-0000000", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code in (401, 403)
    ok = {"Authorization": f"Bearer {API_TOKEN}"}
    missing = client.http.get("/orders/305-0000000-0000000", headers=ok)
    assert missing.status_code == 404 and json.loads(missing.body)["error"] == "NotFound", missing.body
    bad = client.http.get("/orders/%3Cscript%3E", headers=ok)
    assert bad.status_code == 400
    spec = client.http.get("/openapi.json", headers=ok)
    assert json.loads(spec.body)["openapi"].startswith("3.")


def test_intake_remembers_each_seller_and_marketplace_so_the_backstop_polls_them(client, aws_stack):
    from chalicelib.core import wiring

    seller = f"A{uuid.uuid4().hex[:12].upper()}"
    wiring.state().put_seller(seller, [])
    wiring.admission.cache_clear()
    client.lambda_.invoke("intake", sqs_event(client, [
        body(order_change(new_order_id(), seller_id=seller, marketplace_id="A1PA6795UKMFR9")),
        body(order_change(new_order_id(), seller_id=seller, marketplace_id="A13V1IB3VIYZZH"))]))
    mine = [s for s in wiring.state().sellers() if s["seller_id"] == seller]
    assert mine and mine[0]["marketplace_ids"] == ["A13V1IB3VIYZZH", "A1PA6795UKMFR9"]


def test_a_seller_not_registered_is_refused_recorded_and_never_polled(client, aws_stack):
    """Another developer's app pointed at our queue, or a seller we do not serve: refused
    before any flow sees it, recorded with its reason, and no seller row for the backstop."""
    from chalicelib.core import wiring

    stranger, order_id = f"A{uuid.uuid4().hex[:12].upper()}", new_order_id()
    event = sqs_event(client, [body(order_change(order_id, seller_id=stranger)), body(order_change(new_order_id()))])
    response = client.lambda_.invoke("intake", event)
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    from chalicelib.flows.orders import wiring as orders_wiring

    assert orders_wiring.orders().get(order_id) is None
    assert stranger not in {s["seller_id"] for s in wiring.state().sellers()}
    found, _ = wiring.state().list_failures("intake", limit=100)
    failure = next(f for _, f in found if f.message_id == event["Records"][0]["messageId"])
    assert failure.kind == "refused" and "is not registered in this deployment" in failure.reason


def test_a_notification_for_another_application_is_refused(client, aws_stack):
    from chalicelib.core import wiring

    wiring.state().set_application_id("amzn1.sellerapps.app.ours")
    wiring.admission.cache_clear()
    try:
        ours, theirs = order_change(new_order_id()), order_change(new_order_id())
        ours["NotificationMetadata"]["ApplicationId"] = "amzn1.sellerapps.app.ours"
        theirs["NotificationMetadata"]["ApplicationId"] = "amzn1.sellerapps.app.theirs"
        event = sqs_event(client, [body(ours), body(theirs)])
        response = client.lambda_.invoke("intake", event)
        assert response.payload == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
        found, _ = wiring.state().list_failures("intake", limit=100)
        failure = next(f for _, f in found if f.message_id == event["Records"][1]["messageId"])
        assert failure.kind == "refused" and "another SP-API application" in failure.reason
    finally:
        wiring.state().set_application_id(None)
        wiring.admission.cache_clear()


def test_one_record_the_store_would_refuse_fails_alone(client, aws_stack, monkeypatch):
    """Whatever a parser lets through that DynamoDB refuses (here: a seller id over 1 KB, as
    the audit planted) fails its record, never the batch."""
    from chalicelib.core import fields

    monkeypatch.setattr(fields, "SELLER_ID", __import__("re").compile(r"[A-Za-z0-9]{1,5000}"))
    from chalicelib.core import wiring

    huge = "A" * 1100
    wiring.admission().read = lambda: (None, frozenset({"A2EUQ1WTGCTBG2", huge}))
    wiring.admission()._known = None
    try:
        event = sqs_event(client, [body(order_change(new_order_id(), seller_id=huge)),
                                   body(order_change(new_order_id()))])
        response = client.lambda_.invoke("intake", event)
    finally:
        wiring.admission.cache_clear()
    failed = {f["itemIdentifier"] for f in response.payload["batchItemFailures"]}
    assert failed <= {event["Records"][0]["messageId"]}, "the valid record is not failed with it"


def test_health_asks_aws_once_per_period_however_often_it_is_called(client, aws_stack, monkeypatch):
    """Given the open /health route. When it is called 20 times within the cache period.
    Then AWS is asked once; once the period is over, the counts are read again."""
    from botocore.client import BaseClient

    from chalicelib.core import wiring

    calls = []
    original = BaseClient._make_api_call

    def counting(self, operation, params):
        calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    moment = [1000.0]
    wiring.reset()
    wiring.health().clock = lambda: moment[0]
    first = json.loads(client.http.get("/health").body)
    per_read = len(calls)
    assert per_read >= 6, calls  # every queue and dead-letter queue, the state table
    answers = [json.loads(client.http.get("/health").body) for _ in range(19)]
    assert len(calls) == per_read and all(answer == first for answer in answers)
    moment[0] += 15.0
    again = json.loads(client.http.get("/health").body)
    # The queue depths again (the registered sellers are read once a minute, not per period).
    assert calls[per_read:].count("GetQueueAttributes") == calls[:per_read].count("GetQueueAttributes") == 6
    assert again["time"] >= first["time"]
