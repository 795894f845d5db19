"""The simulator's stock side, driven through python-amazon-sp-api as the stock flow drives
Amazon: the Listings Items API (Amazon's checks of a patch), the JSON_LISTINGS_FEED and its
report, the FBA Inventory API's pages, and the notifications each change pushes."""
from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from sp_api.api import FeedsV20210630, Inventories, ListingsItems
from sp_api.auth import AccessTokenClient
from sp_api.auth import access_token_client as lwa_client_module
from sp_api.base import Marketplaces
from sp_api.base.exceptions import SellingApiNotFoundException, SellingApiRequestThrottledException

from chalicelib.flows.stock.parsing import listings_feed, parse_feed_report, quantity_patch
from infra.local.amazon import Simulator

SELLER, TOKEN, DE = "A1SELLERONE", "Atzr|seller-one", "A1PA6795UKMFR9"
CREDENTIALS = {"lwa_app_id": "amzn1.application-oa2-client.sim", "lwa_client_secret": "sim-secret"}


@pytest.fixture(autouse=True)
def fresh_lwa_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    lwa_client_module.cache.clear()
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)


@pytest.fixture
def simulator():
    sim = Simulator({
        "sellers": [{"sellerId": SELLER, "refreshToken": TOKEN, "marketplaceIds": [DE]}],
        "listings": [{"sellerId": SELLER, "sku": f"MUG-{n}", "asin": f"B0000000{n:02d}", "marketplaceIds": [DE],
                      "quantity": 3} for n in range(60)],
        "fbaInventory": [{"sellerId": SELLER, "marketplaceId": DE, "sku": f"FBA-{n:03d}", "fulfillable": n,
                          "inbound": 1, "reserved": 2, "unfulfillable": 0} for n in range(120)]})
    pushed: list[Any] = []
    sim.deliver_to(pushed.append)
    sim.connect("amzn1.application-oa2-client.sim", "arn:aws:sqs:eu-west-1:123456789012:intake", [SELLER],
                ["FBA_INVENTORY_AVAILABILITY_CHANGES", "FEED_PROCESSING_FINISHED",
                 "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"], eventbridge=("123456789012", "eu-west-1"))
    sim.start()
    sim.pushed = pushed  # type: ignore[attr-defined]
    yield sim
    sim.stop()


def _client(simulator: Simulator, api: Any) -> Any:
    class SimulatorTokenClient(AccessTokenClient):
        scheme = "http://"
        host = simulator.url.removeprefix("http://")

    client = api(Marketplaces.DE, refresh_token=TOKEN, credentials=CREDENTIALS,
                 auth_token_client_class=SimulatorTokenClient)
    client.endpoint = simulator.url
    return client


def _patch(simulator: Simulator, sku: str, patches: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
    client = _client(simulator, ListingsItems)
    return dict(client.patch_listings_item(SELLER, sku, marketplaceIds=DE,
                                           body={"productType": "PRODUCT", "patches": patches}, **params).payload)


def test_a_patch_sets_the_quantity_and_amazon_notifies_it_through_eventbridge(simulator):
    answer = _patch(simulator, "MUG-1", quantity_patch(9))
    assert answer["status"] == "ACCEPTED" and answer["issues"] == []
    item = _client(simulator, ListingsItems).get_listings_item(SELLER, "MUG-1", marketplaceIds=DE).payload
    assert item["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 9}]
    (delivery,) = [d for d in simulator.pushed if d.notification_type == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]
    assert delivery.kind == "eventBridge" and delivery.notification["Payload"] == {
        "SellerId": SELLER, "FulfillmentChannelCode": "DEFAULT", "Sku": "MUG-1", "Quantity": 9}
    _patch(simulator, "MUG-1", quantity_patch(9))  # the same quantity again: no change, no notification
    assert len([d for d in simulator.pushed if d.notification_type == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"]) == 1


@pytest.mark.parametrize("patches, code", [
    ([{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"quantity": 2}]}], "90000900"),
    ([{"op": "replace", "path": "/attributes/fulfillment_availability/0/quantity", "value": [{"x": 1}]}],
     "90000900"),
    ([{"op": "replace", "path": "/attributes/fulfillment_availability",
       "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]}], "90000900"),
])
def test_a_patch_amazon_would_refuse_is_invalid_with_its_issue_and_changes_nothing(simulator, patches, code):
    answer = _patch(simulator, "MUG-2", patches)
    assert answer["status"] == "INVALID" and answer["issues"][0]["code"] == code
    assert simulator.listings.listings[(SELLER, "MUG-2")].quantity == 3


def test_an_unknown_sku_is_invalid_on_patch_and_404_on_get(simulator):
    answer = _patch(simulator, "NOT-LISTED", quantity_patch(1))
    assert answer["status"] == "INVALID" and answer["issues"][0]["code"] == "4000001"
    with pytest.raises(SellingApiNotFoundException):
        _client(simulator, ListingsItems).get_listings_item(SELLER, "NOT-LISTED", marketplaceIds=DE)


def test_a_validation_preview_applies_nothing(simulator):
    answer = _patch(simulator, "MUG-3", quantity_patch(40), mode="VALIDATION_PREVIEW")
    assert answer["status"] == "VALID" and simulator.listings.listings[(SELLER, "MUG-3")].quantity == 3


def test_patches_beyond_the_burst_are_answered_429(simulator):
    from concurrent.futures import ThreadPoolExecutor

    def one(n: int) -> str:
        try:
            return _patch(simulator, f"MUG-{n}", quantity_patch(5))["status"]
        except SellingApiRequestThrottledException:
            return "429"

    _client(simulator, ListingsItems)  # the access token first, outside the burst
    with ThreadPoolExecutor(max_workers=20) as pool:  # at once: Amazon's bucket holds 5
        answers = list(pool.map(one, range(20)))
    assert "429" in answers and "ACCEPTED" in answers


def _feed(simulator: Simulator, document: bytes) -> dict[str, Any]:
    client = _client(simulator, FeedsV20210630)
    uploaded = client.create_feed_document(io.BytesIO(document), "application/json; charset=UTF-8").payload
    feed_id = client.create_feed("JSON_LISTINGS_FEED", uploaded["feedDocumentId"], marketplaceIds=[DE]).payload[
        "feedId"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        feed = client.get_feed(feed_id).payload
        if feed["processingStatus"] not in ("IN_QUEUE", "IN_PROGRESS"):
            return {**feed, "report": client.get_feed_document(feed["resultFeedDocumentId"])}
        time.sleep(0.2)
    raise AssertionError("the feed was not processed")


def test_a_listings_feed_applies_its_messages_and_reports_each_refusal(simulator):
    document = listings_feed(SELLER, [("MUG-10", 7), ("UNKNOWN-1", 2), ("MUG-11", 0)])
    feed = _feed(simulator, document)
    report = parse_feed_report(feed["report"])
    assert feed["processingStatus"] == "DONE" and (report.processed, report.accepted, report.invalid) == (3, 2, 1)
    assert [(e.message_id, e.sku, e.code) for e in report.errors] == [(2, "UNKNOWN-1", "4000001")]
    assert simulator.listings.listings[(SELLER, "MUG-10")].quantity == 7
    assert simulator.listings.listings[(SELLER, "MUG-11")].quantity == 0
    finished = [d for d in simulator.pushed if d.notification_type == "FEED_PROCESSING_FINISHED"]
    assert finished[-1].notification["payload"]["feedProcessingFinishedNotification"]["feedType"] == \
        "JSON_LISTINGS_FEED"


def test_a_feed_that_breaks_the_schema_is_fatal(simulator):
    feed = _feed(simulator, json.dumps({"header": {"sellerId": SELLER}, "messages": []}).encode())
    assert feed["processingStatus"] == "FATAL" and "schema" in json.loads(feed["report"])["issues"][0]["message"]


def test_inventory_summaries_come_in_pages_with_the_quantities_amazon_holds(simulator):
    client = _client(simulator, Inventories)
    seen, token = [], None
    while True:
        params: dict[str, Any] = {"details": True, "granularityType": "Marketplace", "granularityId": DE,
                                  "marketplaceIds": [DE]}
        if token:
            params["nextToken"] = token
        response = client.get_inventory_summary_marketplace(**params)
        seen += response.payload["inventorySummaries"]
        token = response.next_token
        if not token:
            break
        time.sleep(0.6)  # getInventorySummaries runs at 2 a second, burst 2
    assert len(seen) == 120 and seen[5]["inventoryDetails"]["fulfillableQuantity"] == 5
    assert seen[5]["inventoryDetails"]["reservedQuantity"]["totalReservedQuantity"] == 2


def test_fba_stock_moving_is_notified_and_drift_is_not(simulator):
    simulator.fba_inventory.change(SELLER, DE, "FBA-001", fulfillable=44)
    simulator.fba_inventory.drift(SELLER, DE, "FBA-002", fulfillable=0)
    notified = [d.notification for d in simulator.pushed if d.notification_type == "FBA_INVENTORY_AVAILABILITY_CHANGES"]
    assert [n["Payload"]["SKU"] for n in notified] == ["FBA-001"]
    inventory = notified[0]["Payload"]["FulfillmentInventoryByMarketplace"][0]["FulfillmentInventory"]
    assert inventory["Fulfillable"] == 44
