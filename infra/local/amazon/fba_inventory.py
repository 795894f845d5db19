"""The FBA Inventory API v1 `getInventorySummaries` over the world's FBA stock, and the
FBA_INVENTORY_AVAILABILITY_CHANGES notification Amazon pushes when it changes.

A world's `fbaInventory` is `[{"sellerId", "marketplaceId", "sku", "fulfillable", "inbound",
"reserved", "unfulfillable"}]`. `change` moves it as Amazon's warehouses would and notifies;
`drift` moves it silently (a notification Amazon never delivered), which only the scheduled
reconciliation can notice. Summaries come 50 to a page, with a nextToken, as the model describes.
"""
from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from infra.local.amazon.core import Api, Caller, InvalidInput, Reply, format_time, one

if TYPE_CHECKING:
    from infra.local.amazon import Simulator

MODEL = "fbaInventory.json"
PAGE_SIZE = 50
NOTIFICATION = "FBA_INVENTORY_AVAILABILITY_CHANGES"


@dataclass
class Stock:
    fulfillable: int = 0
    inbound: int = 0
    reserved: int = 0
    unfulfillable: int = 0
    updated: datetime | None = None


def _fnsku(sku: str) -> str:
    return f"X00{zlib.crc32(sku.encode()) % 10**7:07d}"


class FbaInventoryApi(Api):
    name = "fba_inventory"
    models = (MODEL,)

    def __init__(self, simulator: Simulator) -> None:
        super().__init__(simulator)
        self.stock: dict[tuple[str, str, str], Stock] = {}  # (seller, marketplace, sku)

    def load_world(self, world: Mapping[str, Any]) -> None:
        found: dict[tuple[str, str, str], Stock] = {}
        moment = datetime.now(UTC).replace(microsecond=0)
        for index, entry in enumerate(world.get("fbaInventory") or []):
            key = (entry.get("sellerId"), entry.get("marketplaceId"), entry.get("sku"))
            if not all(isinstance(k, str) and k for k in key):
                raise ValueError(f"fbaInventory[{index}]: sellerId, marketplaceId and sku are needed")
            found[(str(key[0]), str(key[1]), str(key[2]))] = Stock(
                int(entry.get("fulfillable") or 0), int(entry.get("inbound") or 0), int(entry.get("reserved") or 0),
                int(entry.get("unfulfillable") or 0), moment)
        self.stock = found

    def handlers(self) -> dict[str, Callable[[Caller, dict[str, Any]], Reply]]:
        return {"getInventorySummaries": self._summaries}

    def views(self) -> dict[str, Callable[[Mapping[str, list[str]]], Any]]:
        return {"fbaInventory": self._view}

    @staticmethod
    def summary(sku: str, stock: Stock, details: bool) -> dict[str, Any]:
        found: dict[str, Any] = {
            "asin": "", "fnSku": _fnsku(sku), "sellerSku": sku, "condition": "NewItem",
            "lastUpdatedTime": format_time(stock.updated or datetime.now(UTC)), "productName": sku,
            "totalQuantity": stock.fulfillable + stock.inbound + stock.reserved + stock.unfulfillable}
        if details:
            found["inventoryDetails"] = {
                "fulfillableQuantity": stock.fulfillable, "inboundWorkingQuantity": 0,
                "inboundShippedQuantity": stock.inbound, "inboundReceivingQuantity": 0,
                "reservedQuantity": {"totalReservedQuantity": stock.reserved, "pendingCustomerOrderQuantity":
                                     stock.reserved, "pendingTransshipmentQuantity": 0,
                                     "fcProcessingQuantity": 0},
                "researchingQuantity": {"totalResearchingQuantity": 0},
                "unfulfillableQuantity": {"totalUnfulfillableQuantity": stock.unfulfillable}}
        return found

    def _summaries(self, caller: Caller, params: dict[str, Any]) -> Reply:
        if params.get("granularityType") != "Marketplace":
            raise InvalidInput("granularityType must be Marketplace.")
        marketplace = str(params["granularityId"])
        if [str(m) for m in params["marketplaceIds"]] != [marketplace]:
            raise InvalidInput("marketplaceIds must be the one marketplace named by granularityId.")
        wanted = set(params.get("sellerSkus") or [])
        token = params.get("nextToken")
        start = int(token) if token and str(token).isdigit() else 0
        found = sorted((sku, stock) for (seller, market, sku), stock in self.stock.items()
                       if caller.may_see(seller) and market == marketplace and (not wanted or sku in wanted))
        page = found[start:start + PAGE_SIZE]
        body: dict[str, Any] = {"payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": marketplace},
            "inventorySummaries": [self.summary(sku, stock, bool(params.get("details"))) for sku, stock in page]}}
        if start + PAGE_SIZE < len(found):
            body["pagination"] = {"nextToken": str(start + PAGE_SIZE)}
        return Reply(200, body, "getInventorySummaries")

    # --- Amazon's side -------------------------------------------------------------------------

    def _set(self, seller_id: str, marketplace_id: str, sku: str, quantities: Mapping[str, int]) -> Stock:
        with self.simulator.lock:
            stock = self.stock.setdefault((seller_id, marketplace_id, sku), Stock())
            for name, value in quantities.items():
                setattr(stock, name, int(value))
            stock.updated = datetime.now(UTC).replace(microsecond=0)
            return copy.copy(stock)

    def change(self, seller_id: str, marketplace_id: str, sku: str, **quantities: int) -> None:
        """Amazon's warehouses moved the SKU's stock; Amazon notifies it."""
        stock = self._set(seller_id, marketplace_id, sku, quantities)
        self.simulator.notifications.push(seller_id, NOTIFICATION, {
            "SellerId": seller_id, "FNSKU": _fnsku(sku), "ASIN": "", "SKU": sku,
            "FulfillmentInventoryByMarketplace": [{
                "MarketplaceId": marketplace_id, "ItemName": sku,
                "FulfillmentInventory": {
                    "InboundQuantityBreakdown": {"Working": 0, "Shipped": stock.inbound, "Receiving": 0},
                    "Fulfillable": stock.fulfillable, "Unfulfillable": stock.unfulfillable, "Researching": 0,
                    "ReservedQuantityBreakdown": {"WarehouseProcessing": 0, "WarehouseTransfer": 0,
                                                  "PendingCustomerOrder": stock.reserved},
                    "FutureSupplyBuyable": 0, "PendingCustomerOrderInTransit": 0},
                "Stores": []}]})

    def drift(self, seller_id: str, marketplace_id: str, sku: str, **quantities: int) -> None:
        """The stock moved and Amazon's notification was lost: only getInventorySummaries tells."""
        self._set(seller_id, marketplace_id, sku, quantities)

    def _view(self, query: Mapping[str, list[str]]) -> Any:
        """Amazon's FBA stock per seller, marketplace and SKU (?sellerId=)."""
        seller_id = one(query, "sellerId")
        with self.simulator.lock:
            return {"fbaInventory": [{"sellerId": s, "marketplaceId": m, "sku": k, "fulfillable": v.fulfillable,
                                      "inbound": v.inbound, "reserved": v.reserved, "unfulfillable": v.unfulfillable}
                                     for (s, m, k), v in sorted(self.stock.items()) if seller_id in (None, s)]}
