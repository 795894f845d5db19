"""End to end: `python -m infra.local replay --world WORLD.json [--serve] [--poll] FILE...`, run as a
user runs it, then checked through its summary line and its HTTP API.

One `replay --serve --poll` process serves the whole module (the "shop" fixture). It replays a
generated scenario (~25 orders from two sellers: duplicates, shuffled changes, junk, a type we
do not handle, orders whose notification was lost) together with hand-made files for the hard
cases and Amazon's own example notifications. A second, small replay without --serve checks the
summary numbers exactly.

Facts about the served API these tests pin down (chalice local, like API Gateway):
- no Authorization header: 401, from the gateway before our authorizer runs;
- a token the authorizer refuses (wrong token, or not a Bearer token): 403;
- every error, ours or the gateway's, is JSON `{"error": ..., "message": ...}`, and repeats
  nothing the caller sent.
"""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local.scenario import build_scenario
from tests.builders import amazon_order, order_change
from tests.e2e.harness import REPO_ROOT, Finished, Served, run_replay, start_served_replay, write_json

pytestmark = pytest.mark.e2e

TOKEN = "e2e-token-not-a-secret"
RATE_SCALE = "100"  # Amazon's rate limits, 100x faster: the getOrder burst is not the subject here
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "spapi" / "notifications"

HAND_SELLER = "A2EUQ1WTGCTBG2"
DUPLICATED_ORDER = "028-3333333-3333333"
SHUFFLED_ORDER = "028-1111111-1111111"
DUPLICATED_ID = "0d1b5a6e-0000-4000-8000-000000000001"
SHIPPED_ID = "0d1b5a6e-0000-4000-8000-000000000002"
UNSHIPPED_ID = "0d1b5a6e-0000-4000-8000-000000000003"

NOT_JSON = "<html><body>502 Bad Gateway</body></html>"


def amazon_example(name: str) -> dict[str, Any]:
    """Amazon's own example payload for a notification type, as published with its schema."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["examples"][0]


ORDER_CHANGE_EXAMPLE = amazon_example("OrderChangeNotification")
EXAMPLE_CHANGE = ORDER_CHANGE_EXAMPLE["Payload"]["OrderChangeNotification"]
EXAMPLE_ORDER = EXAMPLE_CHANGE["AmazonOrderId"]  # 903-8868176-2219830, seller A3TH9S8BH6GOGM, US


def body_sha256(body: str) -> str:
    """How GET /failures identifies a message body without showing it."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def delivered_body(document: Any) -> str:
    """The SQS body `replay` sends for a JSON document read from a file (re-serialized)."""
    return json.dumps(document)


def example_world_order() -> dict[str, Any]:
    """What getOrder says about the order of Amazon's ORDER_CHANGE example: the builders' order,
    moved to Amazon.com, with the example's item (10 x SellerSKUID1) and its business program."""
    item = EXAMPLE_CHANGE["Summary"]["OrderItems"][0]
    order = amazon_order(EXAMPLE_ORDER, status="UNSHIPPED", marketplace_id=EXAMPLE_CHANGE["Summary"]["MarketplaceId"],
                         updated=EXAMPLE_CHANGE["OrderChangeTrigger"]["TimeOfOrderChange"])
    order = json.loads(json.dumps(order).replace('"EUR"', '"USD"').replace("Amazon.de", "Amazon.com"))
    order["programs"] = ["AMAZON_BUSINESS"]
    usd = lambda amount: {"amount": amount, "currencyCode": "USD"}  # noqa: E731
    order["proceeds"] = {"grandTotal": usd("43.99"), "breakdowns": [
        {"type": "ITEM", "subtotal": usd("40.00")}, {"type": "SHIPPING", "subtotal": usd("3.99")}]}
    line = order["orderItems"][0]
    line.update({"orderItemId": item["OrderItemId"], "quantityOrdered": item["Quantity"],
                 "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": item["Quantity"]},
                 "proceeds": {"proceedsTotal": usd("43.99"), "breakdowns": [
                     {"type": "ITEM", "subtotal": usd("40.00")}, {"type": "SHIPPING", "subtotal": usd("3.99")}]}})
    line["product"].update({"sellerSku": item["SellerSKU"], "title": "Example item",
                            "price": {"unitPrice": usd("4.00")}})
    return order


# ------------------------------------------------------------------------------------ inputs


def hand_made(directory: Path) -> tuple[dict[str, Any], dict[str, Path], dict[str, str]]:
    """The hard cases as files a user would write; returns (world orders, files, delivered bodies)."""
    duplicated = order_change(DUPLICATED_ORDER, "Unshipped", at="2026-11-01T10:00:00.000Z",
                              seller_id=HAND_SELLER, notification_id=DUPLICATED_ID)
    # Shipped at 12:00 is delivered before Unshipped at 10:00: the older change arrives last.
    shipped = order_change(SHUFFLED_ORDER, "Shipped", at="2026-11-01T12:00:00.000Z",
                           seller_id=HAND_SELLER, notification_id=SHIPPED_ID)
    unshipped = order_change(SHUFFLED_ORDER, "Unshipped", at="2026-11-01T10:00:00.000Z",
                             seller_id=HAND_SELLER, notification_id=UNSHIPPED_ID)
    no_envelope = {"AmazonOrderId": "028-4444444-4444444", "OrderStatus": "Shipped"}
    no_order_id = order_change("028-5555555-5555555", "Shipped", seller_id=HAND_SELLER,
                               notification_id="0d1b5a6e-0000-4000-8000-000000000005")
    del no_order_id["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    # Amazon's ANY_OFFER_CHANGED example reuses the NotificationId of its ORDER_CHANGE example:
    # an unhandled type must not be mistaken for a repeat of the order change (or vice versa).
    any_offer = amazon_example("AnyOfferChangedNotification")
    report = amazon_example("ReportProcessingFinishedNotification")

    files = {
        "example": write_json(directory / "amazon-order-change-example.json", ORDER_CHANGE_EXAMPLE),
        "duplicated": write_json(directory / "same-notification-three-times.json", [duplicated] * 3),
        "shuffled": write_json(directory / "shipped-before-unshipped.json", [shipped, unshipped]),
        "not_json": directory / "not-json.txt",
        "no_envelope": write_json(directory / "no-envelope.json", no_envelope),
        "no_order_id": write_json(directory / "order-change-without-order-id.json", no_order_id),
        "any_offer": write_json(directory / "amazon-any-offer-changed-example.json", any_offer),
        "report": write_json(directory / "amazon-report-processing-finished-example.json", report),
    }
    files["not_json"].write_text(NOT_JSON, encoding="utf-8")
    bodies = {
        "not_json": NOT_JSON,
        "no_envelope": delivered_body(no_envelope),
        "no_order_id": delivered_body(no_order_id),
        "any_offer": delivered_body(any_offer),
        "report": delivered_body(report),
    }
    world_orders = [
        {"sellerId": HAND_SELLER, "order": amazon_order(DUPLICATED_ORDER, status="UNSHIPPED",
                                                        updated="2026-11-01T10:00:00Z")},
        {"sellerId": HAND_SELLER, "order": amazon_order(SHUFFLED_ORDER, status="SHIPPED",
                                                        updated="2026-11-01T12:00:00Z")},
        {"sellerId": EXAMPLE_CHANGE["SellerId"], "order": example_world_order()},
    ]
    return world_orders, files, bodies


HAND_MADE_MESSAGES = 1 + 3 + 2 + 1 + 1 + 1 + 1 + 1  # example, 3 copies, shuffled pair, 3 junk, 2 unhandled
HAND_MADE_JUNK = ("not_json", "no_envelope", "no_order_id")
HAND_MADE_UNHANDLED = ("any_offer", "report")


class Shop:
    """What the module-wide replay was given, and what it answered."""

    def __init__(self, served: Served, scenario, world: dict[str, Any], bodies: dict[str, str], received: int):
        self.served = served
        self.summary = served.summary
        self.scenario = scenario
        self.expected = scenario.expected
        self.world = world
        self.bodies = bodies
        self.received = received
        self.world_orders = {entry["order"]["orderId"]: entry for entry in world["orders"]}

    def scenario_orders(self, *, notified: bool | None = True, status: str | None = None,
                        seller: str | None = None) -> dict[str, dict[str, Any]]:
        return {order_id: truth for order_id, truth in self.expected["orders"].items()
                if (notified is None or truth["notified"] == notified)
                and (status is None or truth["status"] == status)
                and (seller is None or truth["sellerId"] == seller)}

    @property
    def busiest_seller(self) -> str:
        return self.scenario.world["sellers"][0]["sellerId"]


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Shop:
    """Given a world of ~25 orders and every kind of message Amazon (or a person) may put in the
    intake queue, when `replay --serve --poll` has run, then its API stays up for the tests."""
    directory = tmp_path_factory.mktemp("shop")
    # Orders placed over the last week and a bit, so that the backstop's first window sees them.
    start = (datetime.now(UTC) - timedelta(days=8)).replace(microsecond=0)
    scenario = build_scenario(seed=11, orders=25, sellers=2, start=start)
    hand_orders, files, bodies = hand_made(directory)
    world = {"sellers": scenario.world["sellers"], "orders": scenario.world["orders"] + hand_orders}
    world_path = write_json(directory / "world.json", world)
    scenario_path = directory / "scenario.jsonl"
    scenario_path.write_text("".join(m + "\n" for m in scenario.messages), encoding="utf-8")
    bodies.update({f"scenario:{i}": m for i, m in enumerate(scenario.messages)})

    served = start_served_replay(world_path, [scenario_path, *files.values()], "--poll", "--rate-scale", RATE_SCALE,
                                 token=TOKEN, workdir=directory)
    try:
        yield Shop(served, scenario, world, bodies, received=len(scenario.messages) + HAND_MADE_MESSAGES)
    finally:
        served.stop()


@pytest.fixture(scope="module")
def hand_made_only(tmp_path_factory) -> Finished:
    """Given only the hand-made files (no --serve), when replayed, then the process exits."""
    directory = tmp_path_factory.mktemp("hand-made")
    world_orders, files, _ = hand_made(directory)
    world_path = write_json(directory / "world.json", {"orders": world_orders})
    finished = run_replay(world_path, files.values(), "--rate-scale", RATE_SCALE, token=TOKEN)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished


# ------------------------------------------------------------------------------------ summary


def test_replay_without_serve_prints_one_summary_line_whose_numbers_add_up_exactly(hand_made_only):
    """Given 11 messages: Amazon's ORDER_CHANGE example, one notification 3 times, a Shipped change
    before an older Unshipped one, 3 malformed messages and Amazon's ANY_OFFER_CHANGED and
    REPORT_PROCESSING_FINISHED examples.
    When replayed without --serve.
    Then it exits 0 after printing exactly one JSON line, and every message has exactly one outcome."""
    s = hand_made_only.summary
    assert len([line for line in hand_made_only.stdout.splitlines() if line.strip()]) == 1, hand_made_only.stdout
    assert s["received"] == HAND_MADE_MESSAGES == 11
    assert (s["created"], s["updated"], s["stale"], s["unhandled"]) == (3, 0, 1, 2), s
    assert s["duplicates"] == 2, s
    assert s["failed"] == 3 and s["dead_lettered"] == 3, s
    assert s["processed"] == s["created"] + s["updated"] + s["stale"] + s["unhandled"] == 6
    assert s["received"] == s["processed"] + s["duplicates"] + s["failed"]
    assert s["tasks"]["failed"] == 0 and s["tasks"]["dead_lettered"] == 0, s["tasks"]
    assert s["tasks"]["fetched"] == 3, s["tasks"]  # one getOrder per order, for the money
    assert s["tasks"]["polled"] == 0, "no --poll, no backstop"
    assert s["iam_denied"] == 0, "every function stayed within its own IAM policy"


def test_a_world_without_application_id_says_the_check_is_off(hand_made_only):
    assert hand_made_only.summary["application_check"] == "off: the world names no applicationId"
    assert hand_made_only.summary["refused"] == 0


def test_only_the_world_s_application_and_sellers_get_in(tmp_path):
    """Given a world naming its application and its seller. When a notification of another
    application, one of a seller the world does not name, and one of ours are replayed.
    Then only ours is processed; the two others are refused with their reason, counted, and the
    stranger is never polled."""
    ours_app, theirs_app = "amzn1.sellerapps.app.11111111-aaaa", "amzn1.sellerapps.app.22222222-bbbb"
    world = {"applicationId": ours_app,
             "sellers": [{"sellerId": HAND_SELLER, "marketplaceIds": ["A1PA6795UKMFR9"]}],
             "orders": [{"sellerId": HAND_SELLER, "order": amazon_order("028-7000000-0000001")}]}
    ours = order_change("028-7000000-0000001", seller_id=HAND_SELLER)
    other_app = order_change("028-7000000-0000002", seller_id=HAND_SELLER)
    stranger = order_change("028-7000000-0000003", seller_id="ASTRANGER00001")
    for message, app in ((ours, ours_app), (other_app, theirs_app), (stranger, ours_app)):
        message["NotificationMetadata"]["ApplicationId"] = app
    files = [write_json(tmp_path / f"{name}.json", doc)
             for name, doc in (("ours", ours), ("other-app", other_app), ("stranger", stranger))]
    finished = run_replay(write_json(tmp_path / "world.json", world), files, "--poll", "--rate-scale", RATE_SCALE,
                          token=TOKEN)
    assert finished.returncode == 0, finished.stderr[-3000:]
    s = finished.summary
    assert s["application_check"] == "on"
    assert (s["created"], s["refused"], s["failed"], s["dead_lettered"]) == (1, 2, 2, 2), s
    assert s["tasks"]["polled"] == 1, "the backstop polls our seller's one marketplace, never the stranger"


def test_summary_received_counts_every_message_delivered_from_every_file(shop):
    """Given a JSON Lines scenario, JSON arrays, single JSON objects and a file that is not JSON.
    When replayed. Then `received` is the number of messages in them, and each has one outcome."""
    s = shop.summary
    assert s["received"] == shop.received
    # Amazon's own notifications while the stack ran (each invoice feed processed) come in too.
    assert s["received"] + s["pushed"] == s["processed"] + s["duplicates"] + s["failed"], s
    assert s["processed"] == s["created"] + s["updated"] + s["stale"] + s["unhandled"], s


def test_summary_counts_match_what_the_scenario_put_in_the_queue(shop):
    """Given the scenario's ground truth plus the hand-made cases.
    When replayed. Then duplicates, failures, dead letters and unhandled types are counted exactly."""
    s, exp = shop.summary, shop.expected
    assert s["duplicates"] == exp["duplicates"] + 2, s
    assert s["failed"] == exp["malformed"] + len(HAND_MADE_JUNK), s
    assert s["dead_lettered"] == exp["malformed"] + len(HAND_MADE_JUNK), s
    assert s["unhandled"] == exp["unhandled"] + len(HAND_MADE_UNHANDLED), s
    notified = len(shop.scenario_orders(notified=True))
    assert s["created"] == notified + 3, s  # the scenario's notified orders and the 3 hand-made ones
    assert s["tasks"]["failed"] == 0 and s["tasks"]["dead_lettered"] == 0, s["tasks"]
    assert s["iam_denied"] == 0, "every function stayed within its own IAM policy (infra/local/guard.py)"


# ------------------------------------------------------------------------------------ duplicates, order


def test_a_notification_delivered_three_times_is_recorded_once(shop):
    """Given the same ORDER_CHANGE (same NotificationId) delivered 3 times.
    When replayed. Then the order's timeline holds that notification once, and the order exists once."""
    order = shop.served.ok(f"/orders/{DUPLICATED_ORDER}")
    ids = [entry["notificationId"] for entry in order["timeline"]]
    assert ids.count(DUPLICATED_ID) == 1, order["timeline"]
    assert order["status"] == "UNSHIPPED"
    listed = shop.served.ok("/orders", {"sellerId": HAND_SELLER, "limit": 100})["orders"]
    assert [o["orderId"] for o in listed].count(DUPLICATED_ORDER) == 1


def test_an_older_change_arriving_last_does_not_undo_the_newer_status(shop):
    """Given Shipped (12:00) delivered before Unshipped (10:00) for the same order.
    When replayed. Then the order is SHIPPED, and its timeline lists both changes in time order."""
    order = shop.served.ok(f"/orders/{SHUFFLED_ORDER}")
    assert order["status"] == "SHIPPED"
    mine = [(e["notificationId"], e["status"]) for e in order["timeline"]
            if e["notificationId"] in (SHIPPED_ID, UNSHIPPED_ID)]
    assert mine == [(UNSHIPPED_ID, "UNSHIPPED"), (SHIPPED_ID, "SHIPPED")], order["timeline"]
    moments = [datetime.fromisoformat(e["at"]) for e in order["timeline"]]
    assert moments == sorted(moments), order["timeline"]
    assert all(item["quantityShipped"] == item["quantity"] for item in order["items"]), order["items"]


def test_every_notified_order_ends_in_amazons_final_status_despite_shuffles_and_repeats(shop):
    """Given the scenario's orders, whose changes arrive shuffled, late and repeated.
    When replayed. Then each notified order shows the status Amazon holds now, seller and marketplace."""
    wrong = {}
    for order_id, truth in shop.scenario_orders(notified=True).items():
        order = shop.served.ok(f"/orders/{order_id}")
        got = (order["status"], order["sellerId"], order["marketplaceId"])
        if got != (truth["status"], truth["sellerId"], truth["marketplaceId"]):
            wrong[order_id] = {"got": got, "expected": (truth["status"], truth["sellerId"], truth["marketplaceId"])}
    assert not wrong
    assert shop.expected["reordered"] > 0, "the scenario should exercise reordered changes"


# ------------------------------------------------------------------------------------ bad messages


def _failures_by_body(shop: Shop) -> dict[str, dict[str, Any]]:
    failures = shop.served.ok("/failures", {"queue": "intake", "limit": 100})["failures"]
    return {f["bodySha256"]: f for f in failures}


@pytest.mark.parametrize(("case", "reason_mentions"), [
    ("not_json", "not JSON"),
    ("no_envelope", "NotificationType is missing"),
    ("no_order_id", "AmazonOrderId is missing"),
])
def test_a_malformed_message_is_dead_lettered_with_a_readable_reason(shop, case, reason_mentions):
    """Given a message that can never succeed (not JSON; JSON without an SP-API envelope; an
    ORDER_CHANGE without AmazonOrderId).
    When replayed. Then GET /failures shows it dead-lettered, with a reason saying what is wrong."""
    failure = _failures_by_body(shop).get(body_sha256(shop.bodies[case]))
    assert failure is not None, f"no failure recorded for the {case} message"
    assert failure["deadLettered"] is True, failure
    assert failure["queue"] == "intake" and failure["kind"] == "invalid", failure
    assert reason_mentions in failure["reason"], failure["reason"]
    assert failure["receiveCount"] >= 5, failure
    assert failure["bodyLength"] == len(shop.bodies[case]), failure


def test_failures_list_every_malformed_message_and_nothing_else(shop):
    """Given the scenario's malformed messages and the 3 hand-made ones.
    When replayed. Then /failures lists exactly those, all dead-lettered, and no task failed."""
    failures = _failures_by_body(shop)
    junk = {body_sha256(shop.bodies[c]) for c in HAND_MADE_JUNK}
    assert junk <= set(failures)
    assert len(failures) == shop.expected["malformed"] + len(HAND_MADE_JUNK), [f["reason"] for f in failures.values()]
    assert all(f["deadLettered"] for f in failures.values()), failures
    assert all(f["reason"] for f in failures.values())
    assert shop.served.ok("/failures", {"queue": "tasks"})["failures"] == []
    everything = shop.served.ok("/failures")
    assert len(everything["failures"]) == len(failures)


@pytest.mark.parametrize("case", HAND_MADE_UNHANDLED)
def test_a_notification_type_without_a_handler_is_acknowledged_not_failed(shop, case):
    """Given Amazon's own ANY_OFFER_CHANGED or REPORT_PROCESSING_FINISHED example (valid, not handled).
    When replayed. Then it is counted as unhandled and appears in no failure record."""
    assert body_sha256(shop.bodies[case]) not in _failures_by_body(shop)
    assert shop.summary["unhandled"] >= len(HAND_MADE_UNHANDLED)


# ------------------------------------------------------------------------------------ order details


def test_amazons_own_order_change_example_becomes_an_order(shop):
    """Given Amazon's ORDER_CHANGE example (a US business order, Unshipped).
    When replayed. Then GET /orders/{id} shows it with the example's seller, marketplace, items."""
    order = shop.served.ok(f"/orders/{EXAMPLE_ORDER}")
    summary = EXAMPLE_CHANGE["Summary"]
    assert order["sellerId"] == EXAMPLE_CHANGE["SellerId"]
    assert order["marketplaceId"] == summary["MarketplaceId"]
    assert order["status"] == "UNSHIPPED"
    assert order["isBusinessOrder"] is True
    assert order["fulfillmentChannel"] == "MFN"
    assert ORDER_CHANGE_EXAMPLE["NotificationMetadata"]["NotificationId"] in [
        e["notificationId"] for e in order["timeline"]]
    example_item = summary["OrderItems"][0]
    assert len(order["items"]) == 1, order["items"]
    item = order["items"][0]
    assert (item["orderItemId"], item["sku"], item["quantity"], item["quantityShipped"]) == (
        example_item["OrderItemId"], example_item["SellerSKU"], example_item["Quantity"],
        example_item["QuantityShipped"])
    assert item["unitPrice"] == {"amount": "4.00", "currency": "USD"}
    assert order["money"]["grandTotal"] == {"amount": "43.99", "currency": "USD"}


def test_an_order_shows_amazons_money_to_the_cent_with_unit_prices(shop):
    """Given shipped orders in the world, with Amazon's proceeds and item prices.
    When replayed (getOrder fetched the money). Then GET /orders/{id} shows the same grand total,
    as the same decimal string, and each item's unit price, and a v2026 status word."""
    statuses = {"PENDING", "PENDING_AVAILABILITY", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
                "UNFULFILLABLE"}
    shipped = shop.scenario_orders(notified=True, status="SHIPPED")
    assert len(shipped) >= 5
    for order_id in shipped:
        world = shop.world_orders[order_id]["order"]
        order = shop.served.ok(f"/orders/{order_id}")
        assert order["status"] in statuses
        grand = world["proceeds"]["grandTotal"]
        assert order["money"]["grandTotal"] == {"amount": grand["amount"], "currency": grand["currencyCode"]}, order_id
        prices = {item["orderItemId"]: item["product"]["price"]["unitPrice"] for item in world["orderItems"]}
        assert {i["orderItemId"] for i in order["items"]} == set(prices)
        for item in order["items"]:
            expected = prices[item["orderItemId"]]
            assert item["unitPrice"] == {"amount": expected["amount"], "currency": expected["currencyCode"]}, order_id
        assert order["detailsAsOf"] is not None


def _personal_strings(order: dict[str, Any]) -> set[str]:
    buyer = order.get("buyer") or {}
    address = (order.get("recipient") or {}).get("deliveryAddress") or {}
    values = [buyer.get("buyerName"), buyer.get("buyerEmail"), buyer.get("buyerCompanyName"),
              address.get("name"), address.get("addressLine1"), address.get("addressLine2"), address.get("phone")]
    return {v for v in values if isinstance(v, str) and len(v) >= 6}


def test_buyer_name_email_and_address_never_appear_in_api_responses(shop):
    """Given world orders with buyer names, relay e-mail addresses, street addresses and phones.
    When every order, the order lists and the failures are read through the API.
    Then none of those strings appears in any response (escaped or not)."""
    personal: set[str] = set()
    for entry in shop.world["orders"]:
        personal |= _personal_strings(entry["order"])
    assert len(personal) > 20
    texts = []
    for order_id in list(shop.scenario_orders(notified=None)) + [DUPLICATED_ORDER, SHUFFLED_ORDER, EXAMPLE_ORDER]:
        response = shop.served.get(f"/orders/{order_id}")
        if response.status_code == 200:
            texts.append(response.text)
            texts.append(json.dumps(response.json(), ensure_ascii=False))
    for seller in {e["sellerId"] for e in shop.world["orders"]}:
        response = shop.served.get("/orders", {"sellerId": seller, "limit": 100})
        texts += [response.text, json.dumps(response.json(), ensure_ascii=False)]
    failures = shop.served.get("/failures", {"limit": 100})
    texts += [failures.text, json.dumps(failures.json(), ensure_ascii=False)]
    leaks = {value for value in personal for text in texts if value in text}
    assert not leaks


# ------------------------------------------------------------------------------------ listing


def _walk(shop: Shop, params: dict[str, Any]) -> tuple[list[str], int]:
    ids, pages, token = [], 0, None
    while True:
        query = dict(params, **({"nextToken": token} if token else {}))
        page = shop.served.ok("/orders", query)
        pages += 1
        assert len(page["orders"]) <= int(params.get("limit", 50))
        ids += [o["orderId"] for o in page["orders"]]
        token = page["nextToken"]
        if not token:
            return ids, pages
        assert pages < 100, "pagination does not end"


def test_listing_by_status_returns_only_that_status(shop):
    """Given a seller with orders in several statuses.
    When GET /orders?sellerId=...&status=SHIPPED. Then only shipped orders come, all of them."""
    seller = shop.busiest_seller
    listed = shop.served.ok("/orders", {"sellerId": seller, "status": "SHIPPED", "limit": 100})
    assert listed["orders"], "the busiest seller has shipped orders"
    assert {o["status"] for o in listed["orders"]} == {"SHIPPED"}
    assert {o["sellerId"] for o in listed["orders"]} == {seller}
    ids = {o["orderId"] for o in listed["orders"]}
    assert set(shop.scenario_orders(notified=True, status="SHIPPED", seller=seller)) <= ids
    assert ids <= set(shop.scenario_orders(notified=None, status="SHIPPED", seller=seller))
    summaries = {o["orderId"]: o for o in listed["orders"]}
    for order_id in ids:
        grand = shop.world_orders[order_id]["order"]["proceeds"]["grandTotal"]
        assert summaries[order_id]["grandTotal"] == {"amount": grand["amount"], "currency": grand["currencyCode"]}


def test_listing_by_marketplace_returns_only_that_marketplace(shop):
    """Given a seller on several marketplaces. When filtered by one. Then only its orders come."""
    seller = shop.busiest_seller
    marketplace = next(iter(shop.scenario_orders(seller=seller).values()))["marketplaceId"]
    listed = shop.served.ok("/orders", {"sellerId": seller, "marketplaceId": marketplace, "limit": 100})["orders"]
    assert listed and {o["marketplaceId"] for o in listed} == {marketplace}
    ids = {o["orderId"] for o in listed}
    # Every notified order of that marketplace; orders the backstop found may come too.
    in_marketplace = lambda notified: {i for i, t in shop.scenario_orders(notified=notified, seller=seller).items()  # noqa: E731
                                       if t["marketplaceId"] == marketplace}
    assert in_marketplace(True) <= ids <= in_marketplace(None)


def test_listing_pages_of_two_walk_every_order_exactly_once(shop):
    """Given a seller with more than a dozen orders.
    When GET /orders?sellerId=...&limit=2 is followed through nextToken.
    Then every order comes exactly once, the same set as one big page."""
    seller = shop.busiest_seller
    ids, pages = _walk(shop, {"sellerId": seller, "limit": 2})
    assert len(ids) == len(set(ids)), f"repeated: {[i for i in ids if ids.count(i) > 1]}"
    everything = {o["orderId"] for o in shop.served.ok("/orders", {"sellerId": seller, "limit": 100})["orders"]}
    assert set(ids) == everything
    assert set(shop.scenario_orders(notified=True, seller=seller)) <= everything
    assert len(ids) > 10 and pages >= len(ids) // 2


@pytest.mark.parametrize("since", ["storedSince", "amazonUpdatedSince"])
def test_listing_changed_since_the_future_is_empty(shop, since):
    """Given orders stored during the replay. When asked for orders stored (or changed by
    Amazon) since tomorrow. Then the list is empty, with no nextToken."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = shop.served.ok("/orders", {"sellerId": shop.busiest_seller, since: tomorrow})
    assert listed == {"orders": [], "nextToken": None}


def test_each_order_says_when_amazon_changed_it_and_when_we_stored_it(shop):
    """Given orders from notifications and from the backstop. When listed.
    Then each carries Amazon's last change time and ours, apart; filtering on Amazon's time
    keeps exactly the orders Amazon changed since then."""
    orders = shop.served.ok("/orders", {"sellerId": shop.busiest_seller, "limit": 100})["orders"]
    assert orders and all(o["amazonUpdatedAt"] and o["storedAt"] for o in orders)
    assert all("updatedAt" not in o for o in orders)
    times = sorted(o["amazonUpdatedAt"] for o in orders)
    middle = times[len(times) // 2]
    since = shop.served.ok("/orders", {"sellerId": shop.busiest_seller, "limit": 100, "amazonUpdatedSince": middle})
    assert {o["orderId"] for o in since["orders"]} == {o["orderId"] for o in orders if o["amazonUpdatedAt"] >= middle}


def test_the_old_filter_name_is_refused_with_the_new_names(shop):
    """updatedSince did not say whose time it filtered on: it is a 400 naming the two filters."""
    response = shop.served.get("/orders", {"sellerId": shop.busiest_seller, "updatedSince": "2026-01-01T00:00:00Z"})
    assert response.status_code == 400
    assert "storedSince" in response.json()["message"] and "amazonUpdatedSince" in response.json()["message"]


@pytest.mark.parametrize(("params", "mentions"), [
    ({"status": "FOO"}, "status must be one of PENDING"),
    ({"limit": "0"}, "limit must be a whole number from 1 to 100"),
    ({"limit": "101"}, "limit must be a whole number from 1 to 100"),
    ({"limit": "two"}, "limit must be a whole number from 1 to 100"),
    ({"storedSince": "yesterday"}, "storedSince must be an ISO 8601 date-time"),
    ({"storedSince": "2026-11-01T00:00:00"}, "storedSince needs a time zone"),
    ({"amazonUpdatedSince": "0001-01-01T00:00:00+14:00"}, "amazonUpdatedSince must be"),
    ({"storedSince": "9999-12-31T23:59:59-14:00"}, "storedSince must be"),
    ({"limit": "%D9%A5"}, "limit must be a whole number from 1 to 100"),
    ({"limit": "\u0665"}, "limit must be a whole number from 1 to 100"),
    ({"limit": " 5"}, "limit must be a whole number from 1 to 100"),
    ({"limit": "1_0"}, "limit must be a whole number from 1 to 100"),
    ({"nextToken": "eyJhIjoxfQ"}, "nextToken is not one this API returned"),
    ({"colour": "blue"}, "1 query parameter(s) this route does not take"),
])
def test_a_bad_list_parameter_is_refused_with_a_clear_message(shop, params, mentions):
    """Given a wrong query parameter. When GET /orders. Then 400 {"error": "BadRequest", "message"}."""
    response = shop.served.get("/orders", {"sellerId": shop.busiest_seller, **params})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "BadRequest"
    assert mentions in body["message"], body


def test_listing_without_seller_when_several_are_served_asks_for_one(shop):
    """Given a deployment that serves several sellers. When GET /orders names none.
    Then 400, and the message says sellerId is required."""
    response = shop.served.get("/orders")
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "BadRequest"
    assert "sellerId is required" in response.json()["message"]


# ------------------------------------------------------------------------------------ single order errors


def test_an_unknown_order_is_404(shop):
    """Given an order id nobody sent. When GET /orders/{id}. Then 404 NotFound naming it."""
    response = shop.served.get("/orders/028-0000000-0000000")
    assert response.status_code == 404
    assert response.json() == {"error": "NotFound", "message": "no order 028-0000000-0000000 has been received"}


@pytest.mark.parametrize("order_id", ["abc", "028_1234567_1234567", "x" * 41])
def test_a_malformed_order_id_is_400(shop, order_id):
    """Given an id that cannot be an order id (too short, wrong characters, too long).
    When GET /orders/{id}. Then 400 BadRequest explaining the expected shape."""
    response = shop.served.get(f"/orders/{order_id}")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "BadRequest"
    assert "orderId must be" in body["message"]


# ------------------------------------------------------------------------------------ auth, health, spec


@pytest.mark.parametrize("path", ["/orders/028-3333333-3333333", "/orders", "/failures", "/openapi.json"])
def test_without_a_token_the_api_answers_401(shop, path):
    """Given no Authorization header. When any route but /health is called.
    Then 401 in the API's error shape: the gateway refuses before our authorizer runs."""
    response = shop.served.get(path, token=None)
    assert response.status_code == 401, response.text
    assert response.json() == {"error": "Unauthorized", "message": "send a bearer token: Authorization: Bearer <token>"}


@pytest.mark.parametrize("authorization", ["Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_with_a_wrong_token_the_api_answers_403(shop, authorization):
    """Given a wrong Bearer token, or the right token without the Bearer scheme.
    When a protected route is called. Then 403, and nothing about the order."""
    response = shop.served.get(f"/orders/{DUPLICATED_ORDER}", token=None, headers={"Authorization": authorization})
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "Forbidden" and set(response.json()) == {"error", "message"}
    assert DUPLICATED_ORDER not in response.text
    assert "wrong-token" not in response.text and TOKEN not in response.text


def test_the_token_line_repeats_the_token_from_the_environment(shop):
    """Given SELLEROPS_API_TOKEN set. When --serve prints its API line. Then that is the token."""
    assert shop.served.token == TOKEN


def test_the_serve_line_names_the_simulator_whose_journal_lists_every_call_amazon_received(shop):
    """Given --serve. When its JSON line is read. Then `simulator` is a URL whose
    /_simulator/calls lists each getOrder Amazon answered, per seller, with what was asked."""
    assert shop.served.simulator.startswith("http://127.0.0.1:") and shop.served.simulator != shop.served.api
    calls = shop.served.amazon("calls", operation="getOrder")["calls"]
    assert len([c for c in calls if c["status"] == 200]) == shop.summary["tasks"]["fetched"]
    seller = shop.busiest_seller
    mine = shop.served.amazon("calls", operation="getOrder", sellerId=seller)["calls"]
    assert mine and {c["sellerId"] for c in mine} == {seller}
    assert all(c["method"] == "GET" and c["path"].startswith("/orders/2026-01-01/orders/") for c in mine)
    assert all("includedData=" in c["query"] for c in mine)
    polls = shop.served.amazon("calls", operation="searchOrders")["calls"]
    assert len(polls) == shop.summary["tasks"]["polled"]
    tokens = shop.served.amazon("calls", operation="lwaToken")["calls"]
    assert tokens and all(c["body"] is None and c["query"] == "" for c in tokens)  # no credentials kept


def test_health_needs_no_token_and_reports_dead_letters(shop):
    """Given malformed messages in the dead-letter queue. When GET /health without a token.
    Then 200, status "attention", the dead-letter count, empty queues and the backstop's run."""
    response = shop.served.get("/health", token=None)
    assert response.status_code == 200, response.text
    health = response.json()
    assert health["status"] == "attention"
    assert health["deadLetters"] == {"intake": shop.summary["dead_lettered"], "tasks": 0, "work": 0}
    assert health["queues"]["intake"]["visible"] == 0
    assert health["lastNotification"] is not None
    assert "poll_orders" in json.dumps(health["schedules"])


def test_the_openapi_document_describes_the_routes(shop):
    """Given the token. When GET /openapi.json. Then an OpenAPI document with the API's routes."""
    spec = shop.served.ok("/openapi.json")
    assert str(spec.get("openapi", "")).startswith("3")
    assert {"/orders", "/orders/{orderId}", "/failures", "/health"} <= set(spec["paths"])


# ------------------------------------------------------------------------------------ backstop


def _marketplace_pairs(world: dict[str, Any]) -> set[tuple[str, str]]:
    pairs = {(s["sellerId"], m) for s in world.get("sellers") or [] for m in s.get("marketplaceIds") or []}
    pairs |= {(e["sellerId"], e["order"]["salesChannel"]["marketplaceId"]) for e in world["orders"]}
    return pairs


def test_poll_runs_the_backstop_once_per_seller_and_marketplace(shop):
    """Given --poll. When the replay has drained. Then searchOrders ran once per seller and
    marketplace (one page each), and no task failed."""
    tasks = shop.summary["tasks"]
    assert tasks["polled"] == len(_marketplace_pairs(shop.world)), tasks
    assert tasks["failed"] == 0


def test_poll_finds_an_order_whose_notification_was_lost(shop):
    """Given orders that exist in the world but were never notified.
    When replayed with --poll. Then the backstop found them: GET /orders/{id} shows each with
    Amazon's status and money."""
    lost = shop.scenario_orders(notified=False)
    assert lost
    missing = {}
    for order_id, truth in lost.items():
        response = shop.served.get(f"/orders/{order_id}")
        if response.status_code != 200 or response.json()["status"] != truth["status"]:
            missing[order_id] = (response.status_code, response.text[:200])
            continue
        world = shop.world_orders[order_id]["order"]
        money = response.json()["money"]
        if world.get("proceeds"):
            assert money["grandTotal"]["amount"] == world["proceeds"]["grandTotal"]["amount"]
        else:  # cancelled before payment: Amazon charged nothing
            assert money is None or money["grandTotal"] is None, money
        # Like the notified ones, it carries its order type and both times.
        assert response.json()["orderType"] in ("StandardOrder", "Preorder"), response.json()
        assert response.json()["amazonUpdatedAt"] <= response.json()["storedAt"]
    assert not missing
    assert shop.summary["recovered"] == len(lost)
    assert shop.summary["tasks"]["fetched"] >= len(shop.scenario_orders(notified=True)) + len(lost)
