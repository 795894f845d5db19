"""Typed tasks: what travels through SQS, and the one place that decides about waits and retries."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import PermanentError, RetryLater, WaitForSlot
from chalicelib.core.tasks import MAX_TASK_RETRIES, Outcome, Slot, Slots, Task, handle_retry, strongest
from tests.fakes import FakeLimiter, FakeTasks

texts = st.text(min_size=1, max_size=30)
params = st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.booleans(), st.integers(), texts), max_size=4)


@given(kind=texts, seller=texts, key=st.text(max_size=30), params=params, attempt=st.integers(0, 60),
       slot=st.one_of(st.none(), st.builds(Slot, texts, st.floats(0, 4e9, allow_nan=False))))
def test_a_task_comes_back_from_json_as_it_went(kind, seller, key, params, attempt, slot):
    task = Task(kind, seller, key, params, attempt, slot)
    assert Task.from_json(task.to_json()) == task


def test_a_task_queued_by_the_first_release_still_reads():
    old = {"task": "fetch_order", "seller_id": "S1", "order_id": "028-1", "marketplace_id": "A1PA6795UKMFR9",
           "reason": "order changed", "retries": 3, "slot": 1800000000.5, "slot_operation": "getOrder"}
    task = Task.from_json(json.dumps(old))
    assert task == Task("fetch_order", "S1", "028-1", {"marketplace_id": "A1PA6795UKMFR9", "reason": "order changed"},
                        3, Slot("getOrder", 1800000000.5))


@pytest.mark.parametrize(("body", "reason"), [
    ("not json", "not JSON"),
    ("[1]", "not a JSON object"),
    ('{"kind": "fetch_order"}', "lacks kind, sellerId or key"),
    ('{"kind": "k", "sellerId": "S", "key": "x", "attempt": "1"}', "attempt a number"),
    ('{"kind": "k", "sellerId": "S", "key": "x", "slot": {"at": 1}}', "slot must be"),
    ("[" * 5000, "not JSON"),
])
def test_a_task_that_cannot_be_read_is_a_permanent_error(body, reason):
    with pytest.raises(PermanentError, match=reason):
        Task.from_json(body)


def test_waiting_for_a_slot_keeps_the_attempts_and_a_failure_counts_one():
    queue = FakeTasks()
    task = Task("k", "S", "x", attempt=2)
    assert handle_retry(task, WaitForSlot("getOrder", 100.0, 4.0), queue) is Outcome.WAITING
    assert handle_retry(task, RetryLater("Amazon failed", 30), queue) is Outcome.RETRIED
    (waiting, wait_delay), (retried, retry_delay) = queue.sent
    assert (waiting.attempt, waiting.slot, wait_delay) == (2, Slot("getOrder", 100.0), 4.0)
    assert (retried.attempt, retried.slot, retry_delay) == (3, None, 30)


def test_past_the_retry_cap_a_task_fails_with_the_last_reason():
    with pytest.raises(PermanentError, match=f"gave up after {MAX_TASK_RETRIES} retries: Amazon failed"):
        handle_retry(Task("k", "S", "x", attempt=MAX_TASK_RETRIES), RetryLater("Amazon failed", 1), FakeTasks())


def test_a_slot_is_booked_once_and_used_when_due():
    slots = Slots(FakeLimiter(waits=[5.0]))
    task = Task("k", "S", "x")
    with pytest.raises(WaitForSlot) as booked:
        slots.take(task, "getOrder", 100.0)
    waiting = task.waiting(Slot(booked.value.operation, booked.value.at))
    with pytest.raises(WaitForSlot, match="next slot in 2.0s"):
        slots.take(waiting, "getOrder", 103.0)  # early: no booking, just wait
    slots.take(waiting, "getOrder", 105.5)
    assert slots.limiter.calls == [("S", "getOrder")]


def test_a_slot_for_another_operation_does_not_count():
    slots = Slots(FakeLimiter())
    slots.take(Task("k", "S", "x", slot=Slot("searchOrders", 0.0)), "getOrder", 100.0)
    assert slots.limiter.calls == [("S", "getOrder")]


class _Buckets:
    """The state table's bucket records (DynamoState.bucket / move_bucket), in memory."""

    def __init__(self):
        self.tats, self.writes = {}, 0

    def bucket(self, key):
        return self.tats.get(key)

    def move_bucket(self, key, expected, new):
        self.writes += 1
        if self.tats.get(key) != expected:
            return False
        self.tats[key] = new
        return True


def _limiter(buckets, clock=lambda: 1000.0):
    from chalicelib.core.limiter import DynamoRateLimiter

    return DynamoRateLimiter(buckets, clock=clock)


def test_a_batch_books_its_slots_in_one_write_and_gives_back_what_it_did_not_use():
    buckets = _Buckets()
    slots = Slots(_limiter(buckets))
    batch = [Task("fetch", "S", f"o{i}") for i in range(4)] + [Task("other", "S", "x")]
    slots.expect(batch)
    for task in batch[:3]:  # the fourth finds its work done and never calls
        slots.started(task)
        slots.take(task, "getOrder", 1000.0)
    assert buckets.writes == 1
    slots.started(batch[3])
    slots.settle()
    assert buckets.writes == 2
    fresh = _Buckets()
    Slots(_limiter(fresh)).take(Task("fetch", "S", "a"), "getOrder", 1000.0)
    for key in ("b", "c"):
        Slots(_limiter(fresh)).take(Task("fetch", "S", key), "getOrder", 1000.0)
    assert buckets.tats == pytest.approx(fresh.tats)  # as if three calls had booked one at a time


def test_a_block_beyond_the_burst_sends_each_task_back_with_its_own_slot():
    from chalicelib.core.limits import limit_for

    buckets = _Buckets()
    limit = limit_for("getOrder")
    buckets.tats["S#getOrder"] = 1000.0 + limit.tolerance  # the burst is spent: calls go one interval apart
    slots = Slots(_limiter(buckets))
    batch = [Task("fetch", "S", f"o{i}") for i in range(3)]
    slots.expect(batch)
    booked = []
    for task in batch:
        slots.started(task)
        with pytest.raises(WaitForSlot) as wait:
            slots.take(task, "getOrder", 1000.0)
        booked.append(wait.value.at)
    assert booked == pytest.approx([1000.0 + limit.interval * k for k in (1, 2, 3)]) and buckets.writes == 1
    slots.settle()
    assert buckets.writes == 1  # nothing left to give back


def test_slots_another_container_booked_after_stay_ours_and_expired_ones_are_not_used():
    buckets = _Buckets()
    ours, theirs = Slots(_limiter(buckets)), Slots(_limiter(buckets))
    batch = [Task("fetch", "S", f"o{i}") for i in range(3)]
    ours.expect(batch)
    ours.started(batch[0])
    ours.take(batch[0], "getOrder", 1000.0)
    theirs.take(Task("fetch", "S", "elsewhere"), "getOrder", 1000.0)
    ours.settle()  # the two unused slots cannot be given back: kept for this container's next batch
    writes = buckets.writes
    ours.take(Task("fetch", "S", "next"), "getOrder", 1001.0)
    assert buckets.writes == writes  # taken from the purse
    late = 1000.0 + ours.limiter.lateness_allowed("getOrder") + 1
    ours.take(Task("fetch", "S", "much later"), "getOrder", late)
    assert buckets.writes == writes + 1  # the last kept slot had passed: a new booking


def test_the_outcome_of_a_notification_several_flows_consume_is_the_one_that_says_most():
    assert strongest([Outcome.DUPLICATE, Outcome.CREATED, Outcome.STALE]) is Outcome.CREATED
    assert strongest([Outcome.DUPLICATE, Outcome.STALE]) is Outcome.STALE
    assert strongest([]) is Outcome.UNHANDLED


def test_a_flush_sends_only_the_tasks_its_own_thread_collected(monkeypatch):
    """The local stack runs its functions in threads of one process: one function's flush (under
    its own role) must never send, or discard, the tasks another function is collecting."""
    import threading

    from chalicelib import resources
    from chalicelib.core import aws, queues

    sent = []

    class Sqs:
        def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 (boto3's names)
            sent.append((threading.current_thread().name, [json.loads(e["MessageBody"])["key"] for e in Entries]))
            return {"Successful": Entries}

    monkeypatch.setattr(aws, "client", lambda service: Sqs())
    queue = queues.SqsTaskQueue(lambda kind: resources.TASKS, queue_url=lambda q: "https://sqs/tasks")
    queue.enqueue(Task("fetch_order", "S1", "main-1"))
    collected, flushed = threading.Event(), threading.Event()

    def other():
        queue.enqueue(Task("fetch_order", "S1", "other-1"))
        collected.set()
        flushed.wait(5)
        queue.discard()

    thread = threading.Thread(target=other, name="other")
    thread.start()
    collected.wait(5)
    queue.flush()
    flushed.set()
    thread.join(5)
    assert sent == [("MainThread", ["main-1"])]


def test_a_task_that_would_repeat_one_collected_is_sent_once(monkeypatch):
    from chalicelib import resources
    from chalicelib.core import aws, queues

    sent = []

    class Sqs:
        def send_message_batch(self, QueueUrl, Entries):  # noqa: N803 (boto3's names)
            sent.extend(json.loads(e["MessageBody"]) for e in Entries)
            return {"Successful": Entries}

    monkeypatch.setattr(aws, "client", lambda service: Sqs())
    queue = queues.SqsTaskQueue(lambda kind: resources.TASKS, queue_url=lambda q: "https://sqs/tasks")
    first = Task("order_stock", "S1", "305-1", {"at": "2026-11-01T08:00:00+00:00"})
    queue.enqueue(first)
    queue.enqueue(Task("order_stock", "S1", "305-1", {"at": "2026-11-01T09:00:00+00:00"}))  # the same work
    queue.enqueue(Task("order_stock", "S1", "305-1", {"at": "2026-11-01T09:00:00+00:00"}), delay=30)  # later
    queue.enqueue(Task("order_stock", "S1", "305-2"))  # another order
    queue.enqueue(Task("fetch_order", "S1", "305-1", {"reason": "order changed"}))
    queue.enqueue(Task("fetch_order", "S1", "305-1", {"reason": "behind Amazon"}))  # another reason: not the same
    queue.enqueue(Task("fetch_order", "S2", "305-1", {"reason": "order changed"}))  # another seller
    queue.flush()
    assert [(t["kind"], t["sellerId"], t["key"]) for t in sent] == [
        ("order_stock", "S1", "305-1"), ("order_stock", "S1", "305-1"), ("order_stock", "S1", "305-2"),
        ("fetch_order", "S1", "305-1"), ("fetch_order", "S1", "305-1"), ("fetch_order", "S2", "305-1")]
    assert sent[0]["params"] == {"at": "2026-11-01T09:00:00+00:00"}  # as of the later change
