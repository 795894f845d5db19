"""The stock flow's consumers and tasks on fakes: Amazon's own example payloads, the warehouse's
CSV, and the pushes to Amazon by the door the count of changes picks."""
from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib.core.envelope import parse_notification
from chalicelib.core.errors import InvalidNotification
from chalicelib.core.tasks import Outcome, Slots, Task
from chalicelib.flows.stock import parsing, rules, service
from chalicelib.flows.stock.service import IntakePorts, TaskPorts
from tests.builders import order_change
from tests.fakes import FakeCallLedger, FakeLimiter, FakeStock, FakeTasks

SELLER = "A2EUQ1WTGCTBG2"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MODELS = Path(__file__).resolve().parents[3] / "infra" / "local" / "amazon" / "models"
EXAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "spapi" / "notifications"


def _fba_example() -> dict:
    schema = json.loads((EXAMPLES / "FBAInventoryAvailabilityChangeNotification.json").read_text())
    payload = schema["properties"]["Payload"]["examples"][0]
    return {"NotificationVersion": "1.0", "NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
            "PayloadVersion": "1.0", "EventTime": "2020-07-13T19:42:04.284Z", "Payload": payload,
            "NotificationMetadata": {"ApplicationId": "amzn1.sellerapps.app.x", "SubscriptionId": "s-1",
                                     "PublishTime": "2020-07-13T19:42:04.284Z", "NotificationId": "fba-1"}}


def _mfn_example(quantity: int | None = None, at: str | None = None) -> dict:
    schema = json.loads((EXAMPLES / "ListingsItemMfnQuantityChange.json").read_text())
    example = copy.deepcopy(schema["examples"][0])
    if quantity is not None:
        example["Payload"]["Quantity"] = quantity
    if at is not None:
        example["EventTime"] = at
    # EventBridge wraps it: the intake queue receives the whole event.
    return {"version": "0", "id": "eb-1", "detail-type": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
            "source": "aws.partner/sellingpartnerapi.amazon.com", "account": "111122223333",
            "time": example["EventTime"], "region": "eu-west-1", "resources": [], "detail": example}


def _ports(store: FakeStock | None = None) -> IntakePorts:
    return IntakePorts(store or FakeStock(), FakeTasks())


class _OrderFacts:
    """What the orders flow holds of each order (its latest change), as stock reads it."""

    def __init__(self):
        self.latest: dict[str, list] = {}

    def hold(self, notification: dict) -> None:
        from chalicelib.flows.orders.parsing import parse_order_change

        change = parse_order_change(parse_notification(notification))
        self.latest[change.order_id] = service.facts_of_change(
            change.seller_id, change.order_id, change.status.value, change.fulfillment_channel,
            [(line.order_item_id, line.sku, line.quantity, line.quantity_shipped) for line in change.lines])

    def order_facts(self, seller_id, order_id):
        return self.latest.get(order_id)


def _order_ports(store: FakeStock | None = None) -> TaskPorts:
    return TaskPorts(store or FakeStock(), FakeTasks(), orders=_OrderFacts())


def _moved(ports: TaskPorts, notification: dict):
    """The orders flow took the change in and queued stock's task (orders/rules.moves_stock)."""
    from chalicelib.flows.stock.triggers import order_task

    ports.orders.hold(notification)
    order_id = notification["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    return service.order_stock(order_task(SELLER, order_id, NOW - timedelta(hours=1)), ports, NOW)


def test_a_merchant_order_reserves_a_cancellation_releases_and_a_shipment_consumes():
    ports = _order_ports()
    service.set_count(ports.stock, SELLER, "MUG-BLUE", 5, NOW - timedelta(days=30), "c", {}, NOW)
    placed = order_change(status="Unshipped", at="2026-11-01T10:00:00Z", notification_id="n1")
    result = _moved(ports, placed)
    balance = ports.stock.get(SELLER, "MUG-BLUE")
    assert result.outcome is Outcome.UPDATED and (balance.on_hand, balance.reserved, balance.available) == (5, 2, 3)
    again = _moved(ports, placed)
    assert again.outcome is Outcome.DUPLICATE and ports.stock.get(SELLER, "MUG-BLUE").reserved == 2
    shipped = order_change(status="Shipped", at="2026-11-02T10:00:00Z", notification_id="n2")
    _moved(ports, shipped)
    balance = ports.stock.get(SELLER, "MUG-BLUE")
    assert (balance.on_hand, balance.reserved) == (3, 0)
    assert [e.kind for e in balance.latest[:2]] == [rules.Kind.CONSUMPTION, rules.Kind.RESERVATION]
    assert balance.latest[0].at == NOW - timedelta(hours=1), "entries are dated by the order's change"
    # Merged again (a retried task, a duplicate notification), it changes nothing.
    assert _moved(ports, shipped).outcome is Outcome.DUPLICATE
    assert ports.stock.get(SELLER, "MUG-BLUE").reserved == 0


def test_a_cancellation_before_its_order_leaves_nothing_reserved():
    ports = _order_ports()
    cancelled = order_change(order_id="028-1111111-1111111", status="Canceled", at="2026-11-01T11:00:00Z")
    _moved(ports, cancelled)
    assert ports.stock.get(SELLER, "MUG-BLUE").reserved == 0


def test_fba_orders_move_no_merchant_stock():
    ports = _order_ports()
    result = _moved(ports, order_change(fulfillment="AFN"))
    assert result.outcome is Outcome.SKIPPED and ports.stock.get(SELLER, "MUG-BLUE") is None


def test_amazons_fba_example_sets_each_marketplaces_quantities_and_older_ones_lose():
    ports = _ports()
    example = _fba_example()
    result = service.record_fba_change(parse_notification(example), ports, NOW)
    balance = ports.stock.get("A3TH9S8BH6GOGM", "SELLERSKU-1")
    assert result.outcome is Outcome.UPDATED
    assert {m: f.quantities() for m, f in balance.fba.items()} == {
        "ATVPDKIKX0DER": (50, 15, 30, 0), "A2EUQ1WTGCTBG2": (40, 6, 30, 0)}
    older = copy.deepcopy(example)
    older["EventTime"] = "2020-07-13T18:00:00Z"
    older["NotificationMetadata"]["NotificationId"] = "fba-0"
    older["Payload"]["FulfillmentInventoryByMarketplace"][0]["FulfillmentInventory"]["Fulfillable"] = 1
    assert service.record_fba_change(parse_notification(older), ports, NOW).outcome is Outcome.STALE
    assert ports.stock.get("A3TH9S8BH6GOGM", "SELLERSKU-1").fba["ATVPDKIKX0DER"].fulfillable == 50
    assert rules.target_quantity(balance) is None  # FBA stock is never pushed as a merchant quantity


@pytest.mark.parametrize("broken, reason", [
    (lambda p: p.pop("SKU"), "SKU is missing"),
    (lambda p: p.update(FulfillmentInventoryByMarketplace=[]), "FulfillmentInventoryByMarketplace must be"),
    (lambda p: p["FulfillmentInventoryByMarketplace"][0]["FulfillmentInventory"].update(Fulfillable=-1),
     "Fulfillable must be from 0"),
    (lambda p: p["FulfillmentInventoryByMarketplace"][0].pop("MarketplaceId"), "MarketplaceId is missing"),
])
def test_a_broken_fba_notification_is_refused_with_its_reason(broken, reason):
    example = _fba_example()
    broken(example["Payload"])
    with pytest.raises(InvalidNotification, match=reason):
        service.record_fba_change(parse_notification(example), _ports(), NOW)


def test_amazons_mfn_quantity_other_than_ours_is_counted_and_pushed_again():
    store = FakeStock()
    service.set_count(store, "AXXXXXXXXXXXXX", "NLS-SHOES-03", 7, NOW - timedelta(days=2), "c", {}, NOW)
    balance = store.get("AXXXXXXXXXXXXX", "NLS-SHOES-03")
    store.balances[("AXXXXXXXXXXXXX", "NLS-SHOES-03")] = rules.replace(
        balance, pushed=rules.Push(7, datetime(2021, 2, 3, 18, 0, tzinfo=UTC), "patch", "sent"))
    assert not rules.needs_push(store.get("AXXXXXXXXXXXXX", "NLS-SHOES-03"))
    result = service.record_mfn_quantity(parse_notification(_mfn_example()), _ports(store), NOW)  # Amazon: 99
    balance = store.get("AXXXXXXXXXXXXX", "NLS-SHOES-03")
    assert result.facts["correcting"] and balance.corrections == 1 and rules.needs_push(balance)
    assert balance.reported.quantity == 99


def test_a_csv_of_counts_applies_whole_or_not_at_all_and_once():
    store = FakeStock()
    bad = "sku;on_hand\nMUG;4\nMUG;5\nPLATE;lots\n"
    with pytest.raises(service.ImportRefused) as refused:
        service.import_counts(store, SELLER, bad, NOW)
    assert [(p.line, p.column) for p in refused.value.problems] == [(3, "sku"), (4, "on_hand")]
    assert store.balances == {}
    good = "Seller SKU,Quantity,Counted At\nMUG,4,2026-11-20T09:00:00Z\nPLATE,0,\n"
    first = service.import_counts(store, SELLER, good, NOW)
    second = service.import_counts(store, SELLER, good, NOW + timedelta(hours=1))
    assert (first["applied"], second["applied"], second["alreadyApplied"]) == (2, 0, 2)
    assert store.get(SELLER, "MUG").on_hand == 4 and store.get(SELLER, "PLATE").managed


class _Amazon:
    def __init__(self, patch_answer: dict | None = None):
        self.patches: list[tuple[str, int]] = []
        self.documents: list[bytes] = []
        self.feeds: list[str] = []
        self.patch_answer = patch_answer
        self.report = ""

    def patch_quantity(self, seller_id, marketplace_ids, sku, quantity):
        self.patches.append((sku, quantity))
        return self.patch_answer or {"sku": sku, "status": "ACCEPTED", "submissionId": "s1", "issues": []}

    def upload_feed(self, seller_id, marketplace_id, document):
        self.documents.append(document)
        return f"doc-{len(self.documents)}"

    def create_feed(self, seller_id, marketplace_ids, document_id):
        self.feeds.append(document_id)
        return "50001"

    def feed_report(self, seller_id, marketplace_id, document_id):
        return self.report

    def inventory_summaries(self, seller_id, marketplace_id, next_token):
        return [{"sellerSku": "FBA-1", "inventoryDetails": {
            "fulfillableQuantity": 9, "inboundWorkingQuantity": 1, "inboundShippedQuantity": 0,
            "inboundReceivingQuantity": 0, "reservedQuantity": {"totalReservedQuantity": 2},
            "unfulfillableQuantity": {"totalUnfulfillableQuantity": 0}}}], None


class _Sellers:
    def sellers(self):
        return [{"seller_id": SELLER, "marketplace_ids": ["A1PA6795UKMFR9"]}]


def _task_ports(store: FakeStock, amazon: _Amazon, tasks: FakeTasks | None = None) -> TaskPorts:
    return TaskPorts(store, tasks or FakeTasks(), Slots(FakeLimiter()), FakeCallLedger(), amazon, None, _Sellers())


def _counted(store: FakeStock, skus: int) -> None:
    for n in range(skus):
        service.set_count(store, SELLER, f"SKU-{n:05d}", n % 7, NOW - timedelta(minutes=5), f"c{n}", {}, NOW)


def test_a_few_changes_are_patched_each_with_its_latest_quantity():
    store, tasks, amazon = FakeStock(), FakeTasks(), _Amazon()
    _counted(store, 3)
    assert service.schedule_pushes(store, _Sellers(), tasks, NOW) == {"patches": 3, "feeds": 0}
    service.adjust(store, SELLER, "SKU-00002", 10, NOW, "late", {}, NOW)  # coalesced: the task reads it now
    for task in tasks.tasks:
        assert service.push_listing(task, _task_ports(store, amazon), NOW).outcome is Outcome.DONE
    assert amazon.patches == [("SKU-00000", 0), ("SKU-00001", 1), ("SKU-00002", 12)]
    assert not store.waiting_push(SELLER, 10)
    again = service.push_listing(tasks.tasks[0], _task_ports(store, amazon), NOW)
    assert again.outcome is Outcome.SKIPPED and len(amazon.patches) == 3


def test_a_sku_amazon_does_not_know_is_flagged_invalid_with_amazons_message():
    store = FakeStock()
    _counted(store, 1)
    amazon = _Amazon({"sku": "SKU-00000", "status": "INVALID", "submissionId": "s2", "issues": [
        {"code": "4000001", "message": "The SKU is not listed", "severity": "ERROR", "categories": []}]})
    result = service.push_listing(Task(service.PUSH_LISTING, SELLER, "SKU-00000"), _task_ports(store, amazon), NOW)
    balance = store.get(SELLER, "SKU-00000")
    assert result.outcome is Outcome.ATTENTION and rules.state_of(balance) is rules.State.INVALID
    assert "not listed" in balance.invalid and not rules.needs_push(balance)


def test_many_changes_go_as_one_feed_created_once_and_its_report_read():
    store, tasks, amazon = FakeStock(), FakeTasks(), _Amazon()
    _counted(store, 400)
    assert service.schedule_pushes(store, _Sellers(), tasks, NOW) == {"patches": 0, "feeds": 1}
    # The next minute's run while that feed is on its way: no second feed of the same SKUs.
    assert service.schedule_pushes(store, _Sellers(), tasks, NOW + timedelta(minutes=1)) == {"patches": 0, "feeds": 0}
    ports = _task_ports(store, amazon, tasks)
    assert service.push_feed(tasks.tasks[0], ports, NOW).outcome is Outcome.DONE
    document = json.loads(amazon.documents[0])
    assert document["header"] == {"sellerId": SELLER, "version": "2.0", "issueLocale": "en_US"}
    assert len(document["messages"]) == 400 and document["messages"][1]["patches"][0]["value"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 1}]
    submit = tasks.tasks[-1]
    service.submit_feed(submit, ports, NOW)
    service.submit_feed(submit, ports, NOW)  # a retried task: createFeed is made once
    assert amazon.feeds == ["doc-1"] and not store.waiting_push(SELLER, 10)
    amazon.report = json.dumps({"header": {"sellerId": SELLER, "version": "2.0", "feedId": "50001"},
                                "issues": [{"messageId": 2, "sku": "SKU-00001", "code": "4000001",
                                            "severity": "ERROR", "message": "unknown SKU"}],
                                "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 400,
                                            "messagesAccepted": 399, "messagesInvalid": 1}})
    read = Task(service.READ_FEED_REPORT, SELLER, "50001", {"status": "DONE", "documentId": "report-1"})
    assert service.read_listings_report(read, ports, NOW).facts["refused"] == 1
    assert store.get(SELLER, "SKU-00001").invalid == "4000001: unknown SKU"
    assert store.get(SELLER, "SKU-00002").pushed.status == "submitted"


def test_the_reconciliation_corrects_fba_drift_and_counts_it():
    store, amazon = FakeStock(), _Amazon()
    ports = _task_ports(store, amazon)
    service.apply(store, SELLER, "FBA-1", lambda b: _fba(b, 4), NOW)
    result = service.reconcile_fba(Task(service.RECONCILE_FBA, SELLER, "A1PA6795UKMFR9", {"run": "r1"}), ports,
                                   NOW + timedelta(hours=1))
    balance = store.get(SELLER, "FBA-1")
    assert result.facts["drift"] == 1 and balance.drift == 1
    assert balance.fba["A1PA6795UKMFR9"].quantities() == (9, 1, 2, 0)


def _fba(balance, fulfillable):
    moved, entry = rules.report_fba(balance, "fba.x", "A1PA6795UKMFR9", rules.Fba(fulfillable, 0, 0, 0, NOW), {})
    return moved, [entry] if entry else []


def test_the_feed_and_its_report_follow_amazons_schemas():
    from jsonschema import Draft7Validator

    schemas = MODELS
    feed = json.loads(parsing.listings_feed(SELLER, [("MUG", 3), ("PLATE", 0)]))
    Draft7Validator(json.loads((schemas / "listings-feed-schema-v2.json").read_text())).validate(feed)
    example = (schemas / "listings-feed-processing-report-schema-v2.example.json").read_text()
    report = parsing.parse_feed_report(example)
    assert (report.processed, report.accepted, report.invalid) == (4, 2, 2) and len(report.errors) == 3
    assert gzip  # the simulator serves reports gzipped (tests/integration)
