"""What Amazon sends about stock → the rules' objects (pure): FBA_INVENTORY_AVAILABILITY_CHANGES
(PascalCase), LISTINGS_ITEM_MFN_QUANTITY_CHANGE (EventBridge, unwrapped by the envelope), the FBA
Inventory API's summaries, and the JSON_LISTINGS_FEED we send and its processing report.

Every field is typed and bounded (core/fields.py); anything else is an InvalidNotification (a
dead letter with its reason) or, for Amazon's answers, a PermanentError naming the field.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import fields
from chalicelib.core.envelope import Notification, get
from chalicelib.core.errors import InvalidNotification, PermanentError
from chalicelib.flows.stock.rules import MAX_QUANTITY, Fba

FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
LISTINGS_ITEM_MFN_QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"
LISTINGS_FEED = "JSON_LISTINGS_FEED"
# A SKU as Amazon takes it: up to 40 characters, printable.
SKU = re.compile(r"[^\x00-\x1f\x7f]{1,40}")
MAX_MARKETPLACES = 30


@dataclass(frozen=True)
class FbaChange:
    seller_id: str
    sku: str
    by_marketplace: tuple[tuple[str, Fba], ...]


@dataclass(frozen=True)
class MfnQuantity:
    seller_id: str
    sku: str
    quantity: int
    at: datetime
    channel: str


def _quantity(value: Any, field: str, strict: dict[str, Any]) -> int:
    return fields.whole(value, field, high=MAX_QUANTITY, **strict)


def _sum(breakdown: Any, field: str, strict: dict[str, Any]) -> int:
    if breakdown is None:
        return 0
    if not isinstance(breakdown, Mapping):
        raise strict["error"](f"{strict['what']}{field} must be an object")
    return sum(_quantity(v, f"{field}.{k}", strict) for k, v in breakdown.items() if not isinstance(v, Mapping))


def _seller(notification: Notification, strict: dict[str, Any]) -> str:
    found = fields.text(get(notification.payload, "SellerId"), "SellerId", pattern=fields.SELLER_ID, **strict) \
        or notification.seller_id
    if not found:
        raise InvalidNotification(f"{strict['what']}SellerId is missing")
    return found


def parse_fba_change(notification: Notification) -> FbaChange:
    payload = notification.payload
    where = f"{notification.label}: "
    strict: dict[str, Any] = {"error": InvalidNotification, "what": where}
    seller_id = _seller(notification, strict)
    sku = fields.required_text(get(payload, "SKU"), "SKU", pattern=SKU, **strict)
    if notification.event_time is None:
        raise InvalidNotification(f"{where}EventTime is missing: without it, newer and older quantities cannot be "
                                  "told apart")
    entries = get(payload, "FulfillmentInventoryByMarketplace")
    if not isinstance(entries, list) or not entries or len(entries) > MAX_MARKETPLACES:
        raise InvalidNotification(f"{where}FulfillmentInventoryByMarketplace must be a list of 1 to "
                                  f"{MAX_MARKETPLACES} marketplaces")
    found = []
    for index, entry in enumerate(entries):
        at = f"FulfillmentInventoryByMarketplace[{index}]"
        if not isinstance(entry, Mapping):
            raise InvalidNotification(f"{where}{at} must be an object")
        marketplace = fields.required_text(get(entry, "MarketplaceId"), f"{at}.MarketplaceId",
                                           pattern=fields.MARKETPLACE_ID, **strict)
        inventory = get(entry, "FulfillmentInventory")
        if not isinstance(inventory, Mapping):
            raise InvalidNotification(f"{where}{at}.FulfillmentInventory is missing or not an object")
        found.append((marketplace, Fba(
            _quantity(get(inventory, "Fulfillable"), f"{at}.Fulfillable", strict),
            _sum(get(inventory, "InboundQuantityBreakdown"), f"{at}.InboundQuantityBreakdown", strict),
            _sum(get(inventory, "ReservedQuantityBreakdown"), f"{at}.ReservedQuantityBreakdown", strict),
            _quantity(get(inventory, "Unfulfillable"), f"{at}.Unfulfillable", strict),
            notification.event_time)))
    return FbaChange(seller_id, sku, tuple(found))


def parse_mfn_quantity(notification: Notification) -> MfnQuantity:
    payload = notification.payload
    where = f"{notification.label}: "
    strict: dict[str, Any] = {"error": InvalidNotification, "what": where}
    seller_id = _seller(notification, strict)
    sku = fields.required_text(get(payload, "Sku"), "Sku", pattern=SKU, **strict)
    quantity = get(payload, "Quantity")
    if quantity is None:
        raise InvalidNotification(f"{where}Quantity is missing")
    at = notification.event_time or notification.publish_time
    if at is None:
        raise InvalidNotification(f"{where}EventTime is missing")
    return MfnQuantity(seller_id, sku, _quantity(quantity, "Quantity", strict), at,
                       fields.text(get(payload, "FulfillmentChannelCode"), "FulfillmentChannelCode", limit=40,
                                   **strict) or "DEFAULT")


# --- the FBA Inventory API --------------------------------------------------------------------

def fba_of_summary(summary: Any, at: datetime) -> tuple[str, Fba]:
    """One InventorySummary (getInventorySummaries with details=true) → (SKU, quantities)."""
    strict: dict[str, Any] = {"error": PermanentError, "what": "getInventorySummaries: "}
    if not isinstance(summary, Mapping):
        raise PermanentError("getInventorySummaries: an inventory summary is not an object")
    sku = fields.required_text(summary.get("sellerSku"), "sellerSku", pattern=SKU, **strict)
    details = summary.get("inventoryDetails") or {}
    if not isinstance(details, Mapping):
        raise PermanentError(f"getInventorySummaries: {sku}: inventoryDetails is not an object")
    reserved = details.get("reservedQuantity") or {}
    unfulfillable = details.get("unfulfillableQuantity") or {}
    inbound = sum(_quantity(details.get(name), name, strict) for name in
                  ("inboundWorkingQuantity", "inboundShippedQuantity", "inboundReceivingQuantity"))
    return sku, Fba(_quantity(details.get("fulfillableQuantity"), "fulfillableQuantity", strict), inbound,
                    _quantity(reserved.get("totalReservedQuantity") if isinstance(reserved, Mapping) else None,
                              "reservedQuantity.totalReservedQuantity", strict),
                    _quantity(unfulfillable.get("totalUnfulfillableQuantity")
                              if isinstance(unfulfillable, Mapping) else None,
                              "unfulfillableQuantity.totalUnfulfillableQuantity", strict), at)


# --- the listings feed --------------------------------------------------------------------------

PRODUCT_TYPE = "PRODUCT"  # Amazon takes it for offer-only changes, whatever the item's product type


def quantity_patch(quantity: int) -> list[dict[str, Any]]:
    """The JSON Patch that sets a merchant listing's quantity (patchListingsItem and the feed)."""
    return [{"op": "replace", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]}]


def listings_feed(seller_id: str, quantities: list[tuple[str, int]]) -> bytes:
    """A JSON_LISTINGS_FEED (listings-feed-schema-v2) of PATCH messages, one per SKU; message
    ids count from 1 in the order given."""
    return json.dumps({
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
        "messages": [{"messageId": number, "sku": sku, "operationType": "PATCH", "productType": PRODUCT_TYPE,
                      "patches": quantity_patch(quantity)}
                     for number, (sku, quantity) in enumerate(quantities, start=1)]},
        separators=(",", ":")).encode()


@dataclass(frozen=True)
class FeedIssue:
    message_id: int
    sku: str | None
    code: str
    message: str


@dataclass(frozen=True)
class FeedReport:
    processed: int
    accepted: int
    invalid: int
    errors: tuple[FeedIssue, ...]  # severity ERROR only: the messages Amazon did not apply


def parse_feed_report(text: str) -> FeedReport:
    """The JSON_LISTINGS_FEED processing report (listings-feed-processing-report-schema-v2)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise PermanentError("the listings feed's processing report is not JSON") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("summary"), Mapping):
        raise PermanentError("the listings feed's processing report has no summary")
    strict: dict[str, Any] = {"error": PermanentError, "what": "listings feed report: ", "high": 10_000_000}
    summary = data["summary"]
    issues = data.get("issues") or []
    if not isinstance(issues, list):
        raise PermanentError("listings feed report: issues must be a list")
    errors = []
    for index, issue in enumerate(issues):
        if not isinstance(issue, Mapping) or str(issue.get("severity", "")).upper() != "ERROR":
            continue
        errors.append(FeedIssue(
            fields.whole(issue.get("messageId"), f"issues[{index}].messageId", **strict),
            fields.text(issue.get("sku"), f"issues[{index}].sku", pattern=SKU, error=PermanentError),
            fields.text(str(issue.get("code", "")), f"issues[{index}].code", limit=40, error=PermanentError) or "",
            fields.text(str(issue.get("message", ""))[:500], f"issues[{index}].message", limit=500,
                        error=PermanentError) or ""))
    return FeedReport(fields.whole(summary.get("messagesProcessed"), "summary.messagesProcessed", **strict),
                      fields.whole(summary.get("messagesAccepted"), "summary.messagesAccepted", **strict),
                      fields.whole(summary.get("messagesInvalid"), "summary.messagesInvalid", **strict),
                      tuple(errors))


# Amazon's answer when the SKU is not one of its listings (the simulator's code; Amazon's
# documentation lists no single code for it): the SKU is then `invalid`.
UNKNOWN_SKU_CODES = frozenset({"4000001", "NOT_FOUND"})


def submission_issues(payload: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """patchListingsItem's ListingsItemSubmissionResponse → (status, [(code, message)] of its errors)."""
    status = str(payload.get("status") or "")
    issues = [(str(i.get("code", "")), str(i.get("message", ""))[:500]) for i in payload.get("issues") or []
              if isinstance(i, Mapping) and str(i.get("severity", "")).upper() == "ERROR"]
    return status, issues
