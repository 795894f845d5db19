"""The Listings Items API 2021-08-01 (getListingsItem, patchListingsItem) over the world's listings,
and the LISTINGS_ITEM_MFN_QUANTITY_CHANGE notification Amazon pushes (through EventBridge) when a
merchant listing's quantity changes.

A world's `listings` are `[{"sellerId", "sku", "asin", "marketplaceIds": [...], "quantity"}]`: what
Amazon lists for the seller. A SKU not listed is unknown to Amazon. What Amazon shows for each
listing is readable at GET /_simulator/listings?sellerId=.

What a patch is checked for, beyond the model (which the core checks): every patch's path is a
top-level attribute (`/attributes/<name>`: Amazon patches no nested attribute), and a
`fulfillment_availability` value is a list of objects each with its `fulfillment_channel_code`
and a whole `quantity` of 0 or more (Amazon answers an INVALID submission with issue 90000900,
"The attributes are invalid", otherwise). A SKU that is not one of the seller's listings in the
marketplaces asked is answered INVALID with issue 4000001 (the simulator's code: Amazon's
documentation lists none for it); sellerops then marks the SKU invalid with that message.
`mode=VALIDATION_PREVIEW` checks without applying (VALID).
"""
from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, errors, format_time, one

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "listingsItems_2021-08-01.json"
UNKNOWN_SKU = "4000001"
INVALID_ATTRIBUTES = "90000900"
MFN_QUANTITY_CHANGE = "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"


@dataclass
class Listing:
    seller_id: str
    sku: str
    asin: str
    marketplace_ids: list[str]
    quantity: int
    updated: datetime
    patches: int = 0
    history: list[tuple[str, int]] = field(default_factory=list)  # (when, quantity) as Amazon showed it


def _issue(code: str, message: str, attribute: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"code": code, "message": message, "severity": "ERROR", "categories": []}
    if attribute:
        found["attributeNames"] = [attribute]
    return found


def patch_problems(seller_id: str, listing: Listing | None, marketplaces: list[str],
                   patches: list[Any]) -> tuple[list[dict[str, Any]], int | None]:
    """What Amazon refuses in a patch of `listing` (its issues) and the quantity it would set."""
    if listing is None or not set(marketplaces) & set(listing.marketplace_ids):
        return [_issue(UNKNOWN_SKU, f"The SKU is not one of seller {seller_id}'s listings in marketplace(s) "
                                    f"{', '.join(marketplaces)}.")], None
    quantity = None
    for patch in patches:
        path = str(patch.get("path", ""))
        parts = path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "attributes":
            return [_issue(INVALID_ATTRIBUTES, f"Only top-level attributes can be patched, not {path}.")], None
        if parts[1] != "fulfillment_availability":
            continue
        value = patch.get("value")
        if patch.get("op") == "delete":
            continue
        if not isinstance(value, list) or not value:
            return [_issue(INVALID_ATTRIBUTES, "The attributes are invalid.", "fulfillment_availability")], None
        for entry in value:
            if not isinstance(entry, Mapping) or not entry.get("fulfillment_channel_code"):
                return [_issue(INVALID_ATTRIBUTES, "The field 'fulfillment_channel_code' for the attribute "
                                                   "'fulfillment_availability' does not have enough values. The "
                                                   "required minimum is '1' value(s).",
                               "fulfillment_availability")], None
            amount = entry.get("quantity")
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                return [_issue(INVALID_ATTRIBUTES, "The attributes are invalid.", "fulfillment_availability")], None
            if entry.get("fulfillment_channel_code") == "DEFAULT":
                quantity = amount
    return [], quantity


class ListingsApi(Api):
    name = "listings"
    models = (MODEL,)

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.listings: dict[tuple[str, str], Listing] = {}

    def load_world(self, world: Mapping[str, Any]) -> None:
        found: dict[tuple[str, str], Listing] = {}
        moment = datetime.now(UTC).replace(microsecond=0)
        for index, entry in enumerate(world.get("listings") or []):
            seller_id, sku = entry.get("sellerId"), entry.get("sku")
            quantity = entry.get("quantity", 0)
            if not (isinstance(seller_id, str) and isinstance(sku, str) and isinstance(quantity, int)):
                raise ValueError(f"listings[{index}]: sellerId, sku and a whole quantity are needed")
            marketplaces = [str(m) for m in entry.get("marketplaceIds") or []]
            if not marketplaces:
                raise ValueError(f"listings[{index}]: a listing is in at least one marketplace (marketplaceIds)")
            found[(seller_id, sku)] = Listing(seller_id, sku, str(entry.get("asin") or ""), marketplaces, quantity,
                                              moment)
        self.listings = found

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"getListingsItem": self._get, "patchListingsItem": self._patch}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"listings": self._view}

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def _item(self, listing: Listing, marketplaces: list[str]) -> dict[str, Any]:
        shown = [m for m in listing.marketplace_ids if m in marketplaces] or listing.marketplace_ids
        return {"sku": listing.sku,
                "summaries": [{"marketplaceId": m, "asin": listing.asin, "productType": "PRODUCT",
                               "conditionType": "new_new",
                               "status": ["BUYABLE", "DISCOVERABLE"] if listing.quantity > 0 else ["DISCOVERABLE"],
                               "itemName": listing.sku, "createdDate": format_time(listing.updated),
                               "lastUpdatedDate": format_time(listing.updated)} for m in shown],
                "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": listing.quantity}],
                "issues": []}

    def _caller_seller(self, caller: Caller, params: dict[str, Any]) -> str:
        seller_id = str(params["sellerId"])
        if not caller.may_see(seller_id):
            raise InvalidInput(f"The seller {seller_id} is not the one the access token is for.")
        return seller_id

    def _get(self, caller: Caller, params: dict[str, Any]) -> Reply:
        seller_id = self._caller_seller(caller, params)
        marketplaces = [str(m) for m in params["marketplaceIds"]]
        listing = self.listings.get((seller_id, str(params["sku"])))
        if listing is None or not set(marketplaces) & set(listing.marketplace_ids):
            return Reply(404, errors("NOT_FOUND", f"SKU '{params['sku']}' not found in marketplace "
                                                  f"{', '.join(marketplaces)}"), "getListingsItem")
        return Reply(200, self._item(listing, marketplaces), "getListingsItem")

    def _patch(self, caller: Caller, params: dict[str, Any]) -> Reply:
        seller_id = self._caller_seller(caller, params)
        sku = str(params["sku"])
        marketplaces = [str(m) for m in params["marketplaceIds"]]
        body = params["body"]
        listing = self.listings.get((seller_id, sku))
        issues, quantity = patch_problems(seller_id, listing, marketplaces, list(body.get("patches") or []))
        submission = uuid.uuid4().hex
        if issues:
            return Reply(200, {"sku": sku, "status": "INVALID", "submissionId": submission, "issues": issues},
                         "patchListingsItem")
        if params.get("mode") == "VALIDATION_PREVIEW":
            return Reply(200, {"sku": sku, "status": "VALID", "submissionId": submission, "issues": []},
                         "patchListingsItem")
        assert listing is not None
        listing.patches += 1
        if quantity is not None:
            self.set_quantity(seller_id, sku, quantity)
        return Reply(200, {"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []},
                     "patchListingsItem")

    # --- Amazon's side ------------------------------------------------------------------------

    def set_quantity(self, seller_id: str, sku: str, quantity: int) -> bool:
        """The merchant listing now shows `quantity` (a patch, a feed, or the seller in Seller
        Central): Amazon notifies a change. False for a SKU Amazon does not list."""
        with self.simulator.lock:
            listing = self.listings.get((seller_id, sku))
            if listing is None:
                return False
            changed = listing.quantity != quantity
            listing.quantity, listing.updated = quantity, self.now()
            listing.history.append((format_time(listing.updated), quantity))
        if changed:
            self.simulator.notifications.push(seller_id, MFN_QUANTITY_CHANGE, {
                "SellerId": seller_id, "FulfillmentChannelCode": "DEFAULT", "Sku": sku, "Quantity": quantity})
        return True

    def _view(self, query: Mapping[str, list[str]]) -> Any:
        """What Amazon shows for each listing (?sellerId=&sku=): quantity, marketplaces, when it
        last changed, how many patches it took and its quantities over time."""
        seller_id, sku = one(query, "sellerId"), one(query, "sku")
        with self.simulator.lock:
            return {"listings": [{"sellerId": item.seller_id, "sku": item.sku, "asin": item.asin,
                                  "marketplaceIds": list(item.marketplace_ids), "quantity": item.quantity,
                                  "updatedAt": format_time(item.updated), "patches": item.patches,
                                  "history": copy.deepcopy(item.history[-20:])}
                                 for (s, k), item in sorted(self.listings.items())
                                 if seller_id in (None, s) and sku in (None, k)]}
