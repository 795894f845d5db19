"""The demo scenario: deterministic, realistic per Amazon's schemas, and exactly as messy as it says."""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

from infra.local.scenario import MARKETPLACES, OLD_TO_NEW_STATUS, build_scenario, main

SCHEMAS = Path(__file__).resolve().parents[1] / "fixtures" / "spapi" / "notifications"
SCHEMA_PATH = SCHEMAS / "OrderChangeNotification.json"

# Documented values, read from the Orders API v2026-01-01 model.
FULFILLMENT_STATUSES = {"PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED",
                        "CANCELLED", "UNFULFILLABLE"}
ORDER_PROGRAMS = {"AMAZON_BAZAAR", "AMAZON_BUSINESS", "AMAZON_EASY_SHIP", "AMAZON_HAUL", "DELIVERY_BY_AMAZON",
                  "FBM_SHIP_PLUS", "INVOICE_BY_AMAZON", "IN_STORE_PICK_UP", "PREMIUM", "PREORDER", "PRIME"}
PROCEEDS_TYPES = {"ITEM", "SHIPPING", "GIFT_WRAP", "COD_FEE", "TAX", "DISCOUNT", "OTHER"}
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
ENVELOPE = ("NotificationVersion", "NotificationType", "PayloadVersion", "EventTime", "Payload",
            "NotificationMetadata")


@pytest.fixture(scope="module")
def scenario():
    return build_scenario(seed=7)


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    # No format checker: the schema declares no formats, and dates are checked by `_dates_parse`.
    return Draft7Validator(schema)


@pytest.fixture(scope="module")
def classified(scenario, validator):
    """Every message of the default scenario with what a consumer would make of it."""
    return [_classify(body, validator) for body in scenario.messages]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _dates_parse(doc: dict) -> bool:
    change = doc["Payload"]["OrderChangeNotification"]
    summary = change["Summary"]
    values = [doc["EventTime"], doc["NotificationMetadata"]["PublishTime"],
              change["OrderChangeTrigger"]["TimeOfOrderChange"]]
    values += [v for k, v in summary.items() if k.endswith("Date") and v is not None]
    try:
        for value in values:
            _parse_time(value)
    except ValueError:
        return False
    return True


@cache
def _fba_validator() -> Draft7Validator:
    return Draft7Validator(json.loads((SCHEMAS / "FBAInventoryAvailabilityChangeNotification.json").read_text(
        encoding="utf-8")))


@cache
def _transaction_validator() -> Draft7Validator:
    return Draft7Validator(json.loads((SCHEMAS / "TransactionUpdateNotification.json").read_text(encoding="utf-8")))


def _classify(body: str, validator: Draft7Validator) -> tuple[str, dict | None]:
    """What a careful consumer would make of one SQS body."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "malformed", None
    if not isinstance(doc, dict):
        return "malformed", None
    kind = doc.get("NotificationType") or doc.get("notificationType")
    if kind is None:
        return "malformed", None
    if kind == "TRANSACTION_UPDATE":
        return ("transaction_update" if _transaction_validator().is_valid(doc) else "malformed"), doc
    if kind == "FBA_INVENTORY_AVAILABILITY_CHANGES":
        return ("fba_inventory" if _fba_validator().is_valid(doc) else "malformed"), doc
    if kind != "ORDER_CHANGE":
        return "unhandled", doc
    if not validator.is_valid(doc) or not _dates_parse(doc):
        return "malformed", doc
    return "order_change", doc


def _order_changes(classified) -> list[dict]:
    """Well-formed ORDER_CHANGE notifications, first delivery of each only."""
    seen, result = set(), []
    for kind, doc in classified:
        if kind == "order_change" and doc["NotificationMetadata"]["NotificationId"] not in seen:
            seen.add(doc["NotificationMetadata"]["NotificationId"])
            result.append(doc)
    return result


def _lives(classified) -> dict[str, list[dict]]:
    """Each order's notifications, in the order the changes happened."""
    lives = defaultdict(list)
    for doc in _order_changes(classified):
        change = doc["Payload"]["OrderChangeNotification"]
        lives[change["AmazonOrderId"]].append(change)
    for changes in lives.values():
        changes.sort(key=lambda c: _parse_time(c["OrderChangeTrigger"]["TimeOfOrderChange"]))
    return lives


def _orders(scenario) -> dict[str, dict]:
    return {entry["order"]["orderId"]: entry["order"] for entry in scenario.world["orders"]}


def _amount(money: dict) -> Decimal:
    assert AMOUNT.match(money["amount"]), money
    return Decimal(money["amount"])


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_output(scenario):
    again = build_scenario(seed=7)
    assert json.dumps(again.world, sort_keys=True) == json.dumps(scenario.world, sort_keys=True)
    assert again.messages == scenario.messages
    assert again.expected == scenario.expected


def test_another_seed_gives_another_scenario(scenario):
    other = build_scenario(seed=8)
    assert set(_orders(other)) != set(_orders(scenario))
    assert other.messages != scenario.messages


def test_messiness_settings_do_not_change_the_world(scenario):
    tidy = build_scenario(seed=7, duplicate_rate=0, shuffle_window=0, malformed=0, unhandled=0)
    assert tidy.world == scenario.world


def test_default_start_is_fixed_and_times_are_utc_with_z(scenario):
    created = [_parse_time(o["createdTime"]) for o in _orders(scenario).values()]
    assert min(created) >= _parse_time("2026-11-01T08:00:00Z")
    for order in _orders(scenario).values():
        assert order["createdTime"].endswith("Z") and order["lastUpdatedTime"].endswith("Z")


# --- variety ----------------------------------------------------------------------------------


def test_world_has_the_variety_a_real_seller_sees(scenario):
    expected = scenario.expected["orders"]
    assert len(scenario.world["orders"]) == len(expected) >= 200
    assert len({o["marketplaceId"] for o in expected.values()}) >= 3
    assert {o["fulfilledBy"] for o in expected.values()} == {"AMAZON", "MERCHANT"}
    assert {o["isBusiness"] for o in expected.values()} == {True, False}
    assert {o["status"] for o in expected.values()} == FULFILLMENT_STATUSES


def test_mix_is_about_60_percent_mfn_20_percent_b2b_8_percent_cancelled(scenario):
    expected = list(scenario.expected["orders"].values())
    share = lambda test: sum(1 for o in expected if test(o)) / len(expected)  # noqa: E731
    assert 0.55 <= share(lambda o: o["fulfilledBy"] == "MERCHANT") <= 0.65
    assert 0.15 <= share(lambda o: o["isBusiness"]) <= 0.25
    assert 0.05 <= share(lambda o: o["status"] == "CANCELLED") <= 0.11


def test_sellers_look_like_amazon_merchants(scenario):
    sellers = scenario.world["sellers"]
    assert len(sellers) == 2
    for seller in sellers:
        assert re.fullmatch(r"A[A-Z0-9]{12,13}", seller["sellerId"])
        assert seller["refreshToken"].startswith("Atzr|")
        assert set(seller["marketplaceIds"]) <= set(MARKETPLACES)
    for entry in scenario.world["orders"]:
        seller = next(s for s in sellers if s["sellerId"] == entry["sellerId"])
        assert entry["order"]["salesChannel"]["marketplaceId"] in seller["marketplaceIds"]


def test_unknown_marketplace_is_refused():
    with pytest.raises(ValueError, match="unknown marketplace"):
        build_scenario(marketplaces=("ATVPDKIKX0DER",))


# --- the world, per the Orders API v2026-01-01 model ---------------------------------------------


def test_world_orders_carry_the_models_required_fields_and_documented_values(scenario):
    for entry in scenario.world["orders"]:
        order = entry["order"]
        for key in ("orderId", "createdTime", "lastUpdatedTime", "salesChannel", "orderItems"):
            assert key in order, key
        assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", order["orderId"])
        marketplace = MARKETPLACES[order["salesChannel"]["marketplaceId"]]
        assert order["salesChannel"] == {"channelName": "AMAZON", "marketplaceId": marketplace.marketplace_id,
                                         "marketplaceName": marketplace.name}
        assert set(order["programs"]) <= ORDER_PROGRAMS
        assert order["fulfillment"]["fulfillmentStatus"] in FULFILLMENT_STATUSES
        assert order["fulfillment"]["fulfilledBy"] in ("AMAZON", "MERCHANT")
        assert order["recipient"]["deliveryAddress"]["countryCode"] == marketplace.country
        assert _parse_time(order["createdTime"]) <= _parse_time(order["lastUpdatedTime"])
        for item in order["orderItems"]:
            assert {"orderItemId", "quantityOrdered", "product"} <= set(item)
            assert item["product"]["price"]["unitPrice"]["currencyCode"] == marketplace.currency
            done = item["fulfillment"]
            assert done["quantityFulfilled"] + done["quantityUnfulfilled"] <= item["quantityOrdered"]


def test_business_orders_say_so_everywhere(scenario):
    orders = _orders(scenario)
    for order_id, truth in scenario.expected["orders"].items():
        order = orders[order_id]
        assert ("AMAZON_BUSINESS" in order["programs"]) == truth["isBusiness"]
        if truth["isBusiness"] and "buyer" in order:
            assert order["buyer"]["buyerCompanyName"]
            assert all(i["product"]["price"]["priceDesignation"] == "BUSINESS_PRICE" for i in order["orderItems"])


def test_buyer_data_follows_the_models_rules(scenario):
    for order in _orders(scenario).values():
        status = order["fulfillment"]["fulfillmentStatus"]
        domain = "marketplace." + order["salesChannel"]["marketplaceName"].lower()
        if status in ("PENDING", "PENDING_AVAILABILITY"):
            assert "buyer" not in order  # no personal data before payment
            assert set(order["recipient"]["deliveryAddress"]) == {"city", "postalCode", "countryCode"}
            continue
        address = order["recipient"]["deliveryAddress"]
        assert {"name", "addressLine1", "city", "postalCode", "countryCode"} <= set(address)
        if order["fulfillment"]["fulfilledBy"] == "MERCHANT":
            assert order["buyer"]["buyerEmail"].endswith("@" + domain)
            assert address["phone"].startswith("+")
        else:  # buyerEmail is FBM-only; FBA orders never show the phone
            assert "buyerEmail" not in order["buyer"] and "phone" not in address


def test_shipped_merchant_orders_have_packages_with_every_shipped_unit(scenario):
    for order in _orders(scenario).values():
        mfn = order["fulfillment"]["fulfilledBy"] == "MERCHANT"
        shipped = {i["orderItemId"]: i["fulfillment"]["quantityFulfilled"] for i in order["orderItems"]}
        if not mfn or not any(shipped.values()):
            assert "packages" not in order
            continue
        in_parcels = Counter()
        for package in order["packages"]:
            assert package["packageReferenceId"] and package["trackingNumber"] and package["carrier"]
            for content in package["packageItems"]:
                in_parcels[content["orderItemId"]] += content["quantity"]
        assert dict(in_parcels) == {k: v for k, v in shipped.items() if v}


def test_money_is_exact_decimal_strings(scenario):
    text = json.dumps(scenario.world)
    for match in re.finditer(r'"amount": ("?)([^,}"]*)', text):
        assert match.group(1) == '"', "money must be a string"
        assert AMOUNT.match(match.group(2))


def test_proceeds_add_up_to_the_cent(scenario):
    for order in _orders(scenario).values():
        if order["fulfillment"]["fulfillmentStatus"] == "CANCELLED":
            assert "proceeds" not in order  # nothing was charged
            continue
        per_type = Counter()
        items_total = Decimal("0")
        for item in order["orderItems"]:
            proceeds = item["proceeds"]
            parts = proceeds["breakdowns"]
            assert {p["type"] for p in parts} <= PROCEEDS_TYPES
            assert sum(_amount(p["subtotal"]) for p in parts) == _amount(proceeds["proceedsTotal"])
            for part in parts:
                per_type[part["type"]] += _amount(part["subtotal"])
                if "detailedBreakdowns" in part:
                    details = sum(_amount(d["value"]) for d in part["detailedBreakdowns"])
                    assert details == _amount(part["subtotal"])
            items_total += _amount(proceeds["proceedsTotal"])
        grand = _amount(order["proceeds"]["grandTotal"])
        breakdowns = order["proceeds"]["breakdowns"]
        assert sum(_amount(p["subtotal"]) for p in breakdowns) == grand == items_total
        assert {p["type"]: _amount(p["subtotal"]) for p in breakdowns} == dict(per_type)


def _intra_eu_business(scenario, order) -> bool:
    """A merchant-fulfilled B2B order to another country than the seller's home (the first of
    its marketplaces): an exempt intra-Community supply."""
    seller = next(e["sellerId"] for e in scenario.world["orders"] if e["order"]["orderId"] == order["orderId"])
    home = next(s["marketplaceIds"][0] for s in scenario.world["sellers"] if s["sellerId"] == seller)
    return ("AMAZON_BUSINESS" in order["programs"] and order["fulfillment"]["fulfilledBy"] == "MERCHANT"
            and order["salesChannel"]["marketplaceId"] != home)


def test_intra_eu_business_supplies_charge_no_vat_and_name_the_buyers_vat_number(scenario):
    intra = [o for o in _orders(scenario).values() if _intra_eu_business(scenario, o) and o.get("proceeds")
             and o["fulfillment"]["fulfillmentStatus"] not in ("PENDING", "PENDING_AVAILABILITY")]
    assert intra, "the scenario has intra-EU business supplies (the reverse charge)"
    for order in intra:
        assert all(p["subtotal"]["amount"] == "0.00" for i in order["orderItems"]
                   for p in i["proceeds"]["breakdowns"] if p["type"] == "TAX")
        registration = order["tax"]["taxRegistrations"][0]
        country = MARKETPLACES[order["salesChannel"]["marketplaceId"]].country
        assert registration["entityType"] == "BUYER" and registration["taxRegistrationNumber"].startswith(country)


def test_vat_is_extracted_half_up_from_vat_inclusive_prices(scenario):
    for order in _orders(scenario).values():
        rate = (Decimal("0") if _intra_eu_business(scenario, order)
                else MARKETPLACES[order["salesChannel"]["marketplaceId"]].vat_rate)
        for item in order["orderItems"]:
            if "proceeds" not in item:
                continue
            gross = _amount(item["product"]["price"]["unitPrice"]) * item["quantityOrdered"]
            tax = next(p for p in item["proceeds"]["breakdowns"] if p["type"] == "TAX")
            item_tax = next(d for d in tax["detailedBreakdowns"] if d["subtype"] == "ITEM")
            net = next(p for p in item["proceeds"]["breakdowns"] if p["type"] == "ITEM")
            wanted = (gross * rate / (1 + rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            assert _amount(item_tax["value"]) == wanted
            assert _amount(net["subtotal"]) + wanted == gross


# --- notifications, per Amazon's ORDER_CHANGE schema ---------------------------------------------


def test_the_schema_accepts_its_own_example(validator):
    for example in validator.schema["examples"]:
        validator.validate(example)


def test_every_well_formed_message_validates_and_only_the_announced_ones_do_not(scenario, classified):
    kinds = Counter(kind for kind, _ in classified)
    assert kinds["malformed"] == scenario.expected["malformed"] == 5
    assert kinds["unhandled"] == scenario.expected["unhandled"] == 1
    notified = sum(1 for o in scenario.expected["orders"].values() if o["notified"])
    assert len(_lives(classified)) == notified


def test_notifications_use_amazons_envelope_and_uuid_notification_ids(classified):
    for doc in _order_changes(classified):
        assert tuple(doc) == ENVELOPE
        assert doc["NotificationVersion"] == doc["PayloadVersion"] == "1.0"
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                            doc["NotificationMetadata"]["NotificationId"])


def test_notifications_agree_with_the_world(scenario, classified):
    orders = _orders(scenario)
    for order_id, changes in _lives(classified).items():
        truth = scenario.expected["orders"][order_id]
        order = orders[order_id]
        for change in changes:
            summary = change["Summary"]
            assert change["SellerId"] == truth["sellerId"]
            assert summary["MarketplaceId"] == truth["marketplaceId"]
            assert summary["FulfillmentType"] == ("AFN" if truth["fulfilledBy"] == "AMAZON" else "MFN")
            assert ("Business" in summary.get("OrderPrograms", [])) == truth["isBusiness"]
            assert summary["DestinationPostalCode"] == order["recipient"]["deliveryAddress"]["postalCode"]
            assert _parse_time(summary["PurchaseDate"]) == _parse_time(order["createdTime"])
            assert summary["NumberOfItemsShipped"] == sum(i["QuantityShipped"] for i in summary["OrderItems"])
            assert {i["OrderItemId"] for i in summary["OrderItems"]} == {i["orderItemId"] for i in order["orderItems"]}


def test_world_status_is_the_last_notifications_status(scenario, classified):
    orders = _orders(scenario)
    for order_id, changes in _lives(classified).items():
        last = changes[-1]
        order = orders[order_id]
        assert OLD_TO_NEW_STATUS[last["Summary"]["OrderStatus"]] == order["fulfillment"]["fulfillmentStatus"]
        assert order["fulfillment"]["fulfillmentStatus"] == scenario.expected["orders"][order_id]["status"]
        assert _parse_time(last["OrderChangeTrigger"]["TimeOfOrderChange"]) == _parse_time(order["lastUpdatedTime"])
        shipped = {i["OrderItemId"]: i["QuantityShipped"] for i in last["Summary"]["OrderItems"]}
        assert shipped == {i["orderItemId"]: i["fulfillment"]["quantityFulfilled"] for i in order["orderItems"]}


def test_each_order_lives_forward_in_time(classified):
    for changes in _lives(classified).values():
        times = [_parse_time(c["OrderChangeTrigger"]["TimeOfOrderChange"]) for c in changes]
        assert len(set(times)) == len(times)  # strictly increasing: no two changes at one instant
        assert changes[0]["Summary"]["OrderStatus"] in ("Pending", "PendingAvailability")


def test_buyer_cancellations_are_requested_before_they_happen(classified):
    requested = 0
    for changes in _lives(classified).values():
        if changes[-1]["Summary"]["OrderStatus"] != "Canceled":
            continue
        kinds = [c["OrderChangeType"] for c in changes]
        if "BuyerRequestedChange" in kinds:
            requested += 1
            request = changes[kinds.index("BuyerRequestedChange")]
            assert request["OrderChangeTrigger"]["ChangeReason"] == "Buyer Requested Cancel"
            assert all(i["IsBuyerRequestedCancel"] for i in request["Summary"]["OrderItems"])
    assert requested >= 5


# --- messiness ----------------------------------------------------------------------------------


def test_duplicates_are_byte_identical_repeats(scenario, validator):
    by_id = defaultdict(set)
    copies = Counter(scenario.messages)
    repeated = 0
    for body, count in copies.items():
        kind, doc = _classify(body, validator)
        if kind == "order_change":
            by_id[doc["NotificationMetadata"]["NotificationId"]].add(body)
            repeated += count - 1
        elif kind == "transaction_update":  # the invoices part delivers one refund's twice, on purpose
            assert count <= 2
        else:
            assert count == 1  # only well-formed notifications are repeated
    assert all(len(bodies) == 1 for bodies in by_id.values())  # one NotificationId, one body
    assert repeated == scenario.expected["duplicates"] > 0
    assert scenario.expected["duplicates"] == int(0.08 * len(by_id) + 0.5)  # the rate, rounded half-up


def test_some_orders_hear_a_later_status_before_an_earlier_one(scenario, classified):
    latest, inverted = {}, set()
    for doc in _order_changes(classified):
        change = doc["Payload"]["OrderChangeNotification"]
        at = _parse_time(change["OrderChangeTrigger"]["TimeOfOrderChange"])
        order_id = change["AmazonOrderId"]
        if order_id in latest and at < latest[order_id]:
            inverted.add(order_id)
        latest[order_id] = max(at, latest.get(order_id, at))
    assert len(inverted) == scenario.expected["reordered"] > 0


def test_without_shuffling_messages_arrive_in_publish_order():
    tidy = build_scenario(seed=7, duplicate_rate=0, shuffle_window=0, malformed=0, unhandled=0, lost=0)
    published = [_parse_time(json.loads(body)["EventTime"]) for body in tidy.messages]
    assert published == sorted(published)
    assert tidy.expected["reordered"] == tidy.expected["duplicates"] == 0


def test_lost_orders_exist_only_in_the_world(scenario, classified):
    lost = {oid for oid, o in scenario.expected["orders"].items() if not o["notified"]}
    assert len(lost) == scenario.expected["lost"] == 4
    assert lost <= set(_orders(scenario))
    assert not lost & set(_lives(classified))
    assert not any(oid in body for oid in lost for body in scenario.messages)


def test_fba_stock_is_announced_by_valid_notifications_and_one_sku_drifts_after(scenario, classified):
    announced = [doc for kind, doc in classified if kind == "fba_inventory"]
    assert len(announced) == len(scenario.world["fbaInventory"]) == len(scenario.expected["fba"])
    drifted = [f for f in scenario.expected["fba"] if f["notified"] != f["amazon"]]
    assert len(drifted) <= 1


def test_the_warehouse_counts_give_each_role_its_story(scenario):
    stock = scenario.expected["stock"]
    for seller in scenario.world["sellers"]:
        roles = {v["role"] for v in stock.values() if v["sellerId"] == seller["sellerId"]}
        assert {"sold_out", "oversold", "low", "discontinued", "unknown_to_amazon", "plenty"} <= roles
    listed = {(entry["sellerId"], entry["sku"]) for entry in scenario.world["listings"]}
    for sku, truth in stock.items():
        assert ((truth["sellerId"], sku) in listed) == (truth["role"] != "unknown_to_amazon")
        if truth["role"] == "oversold":
            assert truth["oversold"] == 1 and truth["available"] == 0 and truth["onReorderList"]


def test_refunds_are_announced_by_valid_transaction_updates_naming_their_order(scenario, classified):
    announced = [doc for kind, doc in classified if kind == "transaction_update"]
    refunds = scenario.expected["refunds"]
    assert refunds and len({d["NotificationMetadata"]["NotificationId"] for d in announced}) == len(refunds) + 1
    named = {r["RelatedIdentifierValue"] for d in announced
             for r in d["Payload"]["TransactionUpdateNotification"]["RelatedIdentifiers"]}
    assert named == {r["orderId"] for r in refunds}
    posted = {t["transaction"]["transactionId"]: t for t in scenario.world["transactions"]}
    for refund in refunds:
        transaction = posted[refund["transactionId"]]["transaction"]
        charges = transaction["items"][0]["breakdowns"][0]
        assert charges["breakdownType"] == "ProductCharges"
        assert Decimal(str(charges["breakdownAmount"]["currencyAmount"])) == Decimal(refund["total"])


def test_pricing_health_is_a_valid_notification_we_do_not_handle(classified):
    unhandled = [doc for kind, doc in classified if kind == "unhandled"]
    assert [doc["notificationType"] for doc in unhandled] == ["PRICING_HEALTH"]  # camelCase type
    schema = json.loads((SCHEMAS / "PricingHealthNotification.json").read_text(encoding="utf-8"))
    Draft7Validator(schema).validate(unhandled[0])


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_writes_world_notifications_and_expected(tmp_path, capsys):
    assert main(["--seed", "7", "--orders", "220", "--out", str(tmp_path)]) == 0
    scenario = build_scenario(seed=7, orders=220)
    assert json.loads((tmp_path / "world.json").read_text(encoding="utf-8")) == scenario.world
    assert json.loads((tmp_path / "expected.json").read_text(encoding="utf-8")) == scenario.expected
    lines = (tmp_path / "notifications.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == scenario.messages
    assert "220 orders" in capsys.readouterr().out
