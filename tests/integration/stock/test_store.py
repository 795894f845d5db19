"""The stock store's contract, on the fake (tests/fakes.py) and on DynamoDB (moto), with the same
tests: balances round-trip, an entry is written once, a stale version loses, and racing writers
on the moto server end exactly where a serial replay does."""
from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.tasks import Outcome
from chalicelib.flows.stock import rules, service
from chalicelib.flows.stock.rules import ItemFact
from chalicelib.flows.stock.store import DynamoStock, Written
from tests.fakes import FakeStock

SELLER = "A2EUQ1WTGCTBG2"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamo"])
def store(request):
    if request.param == "fake":
        return FakeStock(reorder_default=3)
    request.getfixturevalue("aws_stack")
    from chalicelib.core import wiring

    wiring.reset()
    return DynamoStock(reorder_default=3)


def _sku(prefix: str) -> str:
    return f"{prefix}-{random.randrange(10**9)}"


def test_a_balance_round_trips_with_its_entries_and_settings(store):
    sku = _sku("MUG")
    service.set_count(store, SELLER, sku, 10, NOW - timedelta(hours=1), "c1", {"type": "count", "by": "x"}, NOW)
    service.configure(store, SELLER, sku, {"safetyBuffer": 2, "reorderPoint": 4}, NOW)
    service.apply_fact(store, SELLER, ItemFact("028-1", "9", sku, 3), NOW, {"type": "test"}, NOW)
    service.apply(store, SELLER, sku, lambda b: _fba(b), NOW)
    balance = store.get(SELLER, sku)
    assert (balance.on_hand, balance.reserved, balance.available, balance.settings.buffer) == (10, 3, 5, 2)
    assert [e.kind for e in balance.latest] == [rules.Kind.FBA, rules.Kind.RESERVATION, rules.Kind.COUNT]
    assert balance.fba["A1PA6795UKMFR9"].quantities() == (4, 1, 0, 0) and balance.managed
    assert store.get_many(SELLER, [sku, "nothing"]) == {sku: balance}
    assert store.item(SELLER, "028-1", "9").ordered == 3


def _fba(balance):
    moved, entry = rules.report_fba(balance, "fba.1", "A1PA6795UKMFR9", rules.Fba(4, 1, 0, 0, NOW), {})
    return moved, [entry] if entry else []


def test_an_entry_is_written_once_and_a_stale_version_loses(store):
    sku = _sku("PLATE")
    first = service.adjust(store, SELLER, sku, 5, NOW, "same", {}, NOW)
    again = service.adjust(store, SELLER, sku, 5, NOW, "same", {}, NOW)
    assert first.outcome is Outcome.CREATED and again.outcome is Outcome.DUPLICATE
    assert store.get(SELLER, sku).on_hand == 5
    read = store.get(SELLER, sku)
    moved, entry = rules.adjust(read, "other", NOW, 1, {})
    assert store.write(read, moved, [entry], NOW) is Written.OK
    stale, entry2 = rules.adjust(read, "third", NOW, 1, {})
    assert store.write(read, stale, [entry2], NOW) is Written.CONFLICT
    assert store.get(SELLER, sku).on_hand == 6


def test_the_push_list_holds_the_skus_amazon_must_follow(store):
    sku = _sku("CUP")
    service.set_count(store, SELLER, sku, 3, NOW, "c1", {}, NOW)
    assert sku in store.waiting_push(SELLER, 10_000)
    service.apply(store, SELLER, sku, lambda b: (rules.replace(b, pushed=rules.Push(3, NOW, "patch", "sent"),
                                                               version=b.version + 1), []), NOW)
    assert sku not in store.waiting_push(SELLER, 10_000)


def test_feeds_and_imports_are_kept(store):
    store.save_feed(SELLER, "f-1", {"status": "submitted"}, [{"id": 1, "sku": "A", "quantity": 2}], NOW)
    store.update_feed(SELLER, "f-1", {"status": "done"}, NOW)
    assert store.feed(SELLER, "f-1") == ({"status": "done"}, [{"id": 1, "sku": "A", "quantity": 2}])
    assert store.imported(SELLER, "digest") is None
    store.remember_import(SELLER, "digest", {"rows": 2}, NOW)
    assert store.imported(SELLER, "digest") == {"rows": 2}


def test_lists_by_state_on_dynamodb(aws_stack):
    from chalicelib.core import wiring

    wiring.reset()
    store = DynamoStock(reorder_default=3)
    seller = f"A{random.randrange(10**12):012d}"
    service.set_count(store, seller, "OUT", 0, NOW, "c1", {}, NOW)
    service.set_count(store, seller, "LOW", 2, NOW, "c2", {}, NOW)
    service.set_count(store, seller, "PLENTY", 50, NOW, "c3", {}, NOW)
    service.set_count(store, seller, "GONE", 9, NOW, "c4", {}, NOW)
    service.configure(store, seller, "GONE", {"discontinued": True}, NOW)
    service.apply_fact(store, seller, ItemFact("028-9", "1", "OUT", 1), NOW, {}, NOW)
    found = {state: [b.sku for b in store.page(seller, state, 100, None)[0]]
             for state in (None, "out_of_stock", "reorder", "oversold", "discontinued")}
    assert found == {None: ["GONE", "LOW", "OUT", "PLENTY"], "out_of_stock": ["OUT"], "reorder": ["LOW", "OUT"],
                     "oversold": ["OUT"], "discontinued": ["GONE"]}
    assert store.counts(seller) == {"outOfStock": 1, "invalid": 0, "reorder": 2, "oversold": 1, "waitingPush": 4}


def test_racing_writers_on_dynamodb_end_as_a_serial_replay(aws_stack):
    from chalicelib.core import wiring

    wiring.reset()
    store, serial = DynamoStock(), FakeStock()
    rng = random.Random(7)
    skus = [_sku("RACE") for _ in range(3)]
    moves = []
    for n in range(60):
        sku = rng.choice(skus)
        kind = rng.choice(["adjust", "order", "count"])
        at = NOW - timedelta(minutes=rng.randrange(600))
        if kind == "adjust":
            moves.append(("adjust", sku, f"a{n}", rng.choice([-3, -1, 2, 5]), at))
        elif kind == "count":
            moves.append(("count", sku, f"c{n}", rng.randrange(40), at + timedelta(seconds=n)))
        else:
            moves.append(("fact", sku, ItemFact(f"028-{n}", "1", sku, rng.randrange(1, 4)), 0, at))
    sent = moves + rng.sample(moves, 20)
    rng.shuffle(sent)

    def run(target, move):
        kind, sku, ident, quantity, at = move
        if kind == "adjust":
            service.adjust(target, SELLER, sku, quantity, at, ident, {}, NOW)
        elif kind == "count":
            service.set_count(target, SELLER, sku, quantity, at, ident, {}, NOW)
        else:
            service.apply_fact(target, SELLER, ident, at, {}, NOW)

    for move in sent:
        run(serial, move)
    threads = [threading.Thread(target=lambda part=part: [run(store, m) for m in part])
               for part in (sent[i::8] for i in range(8))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sku in skus:
        expected, got = serial.get(SELLER, sku), store.get(SELLER, sku)
        assert (got.on_hand, got.reserved) == (expected.on_hand, expected.reserved)


def test_an_order_item_that_moves_nothing_leaves_a_balance_later_movements_can_write(store):
    sku = _sku("FIRST-CANCELLED")
    # Amazon's cancellation arrives first: the item is recorded, nothing is reserved.
    service.apply_fact(store, SELLER, ItemFact("028-7", "1", sku, 2, cancelled=True), NOW, {}, NOW)
    service.apply_fact(store, SELLER, ItemFact("028-7", "1", sku, 2), NOW, {}, NOW)
    moved = service.adjust(store, SELLER, sku, 4, NOW, "after", {}, NOW)
    assert (moved.balance.on_hand, moved.balance.reserved) == (4, 0)


def test_a_balance_stored_as_json_text_before_it_was_compressed_still_reads(aws_stack):
    import json

    import boto3

    from chalicelib.core import wiring

    wiring.reset()
    store = DynamoStock(reorder_default=3)
    sku = _sku("OLD")
    service.set_count(store, SELLER, sku, 7, NOW - timedelta(hours=1), "c1", {"type": "count", "by": "x"}, NOW)
    table = aws_stack.outputs["StockTableName"]
    dynamodb = boto3.client("dynamodb", region_name=aws_stack.region, endpoint_url=aws_stack.endpoint_url)
    key = {"pk": {"S": f"sku#{SELLER}#{sku}"}, "sk": {"S": "balance"}}
    assert "B" in dynamodb.get_item(TableName=table, Key=key)["Item"]["data"]  # written compressed now
    from chalicelib.flows.stock.store import balance_json

    # as the release before wrote it: the same document as JSON text
    dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET #d = :d", ExpressionAttributeNames={
        "#d": "data"}, ExpressionAttributeValues={":d": {"S": json.dumps(balance_json(store.get(SELLER, sku)))}})
    before = store.get(SELLER, sku)
    assert before.on_hand == 7 and before.managed and [e.kind for e in before.latest] == [rules.Kind.COUNT]
    service.adjust(store, SELLER, sku, -2, NOW, "a1", {"type": "test"}, NOW)  # and the next movement writes it
    assert store.get(SELLER, sku).on_hand == 5
