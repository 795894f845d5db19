"""The scenario's stock part: what the sellers' warehouses hold, what Amazon lists, and what
Amazon's warehouses report for FBA.

- world `stock`: the warehouse's starting counts of every merchant SKU the orders sell, chosen
  against the units those orders take (reserved while open, consumed once shipped): one SKU per
  seller exactly sold out (out of stock, on the reorder list), one short by a unit (the last
  order for it is oversold), one low (below its reorder point), one discontinued (Amazon gets 0
  whatever is on the shelf), the rest plenty, some with a safety buffer;
- world `listings`: what Amazon lists (every merchant SKU but one per seller, which Amazon does
  not know: it turns invalid when its quantity is pushed), with a quantity that is not ours yet;
- world `fbaInventory` and FBA_INVENTORY_AVAILABILITY_CHANGES notifications for the "-FBA" SKUs;
  one SKU moved after its last notification, which only the reconciliation sees (drift);
- expected `stock`: per SKU, what sellerops must end with (available, state, reorder and
  oversold), after every order's notification and the backstop. Shipping a reserved unit moves
  on hand and reserved alike, so these hold whatever the warehouse ships afterwards.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from infra.local.scenario.common import Message, Story, envelope, fake_uuid, to_body

REORDER_POINT = 5


def _demand(story: Story) -> dict[tuple[str, str], dict[str, int]]:
    """Per (seller, merchant SKU): units the orders reserve (open) and consume (shipped)."""
    truth = story.expected["orders"]
    found: dict[tuple[str, str], dict[str, int]] = {}
    for entry in story.world["orders"]:
        order = entry["order"]
        known = truth[order["orderId"]]
        if known["fulfilledBy"] != "MERCHANT":
            continue
        for item in order["orderItems"]:
            sku, quantity = item["product"]["sellerSku"], item["quantityOrdered"]
            counts = found.setdefault((entry["sellerId"], sku), {"reserved": 0, "consumed": 0})
            shipped = item["fulfillment"]["quantityFulfilled"]
            if known["status"] == "CANCELLED":
                continue
            if known["status"] == "SHIPPED":
                counts["consumed"] += quantity
            else:
                counts["consumed"] += shipped
                counts["reserved"] += quantity - shipped
    return found


def tell(story: Story) -> None:
    rng = story.world_rng
    demand = _demand(story)
    stock: list[dict[str, Any]] = []
    listings: list[dict[str, Any]] = []
    expected: dict[str, dict[str, Any]] = {}
    for seller in story.sellers:
        mine = sorted((sku, counts) for (seller_id, sku), counts in demand.items() if seller_id == seller.seller_id)
        # The interesting ones among SKUs that orders still hold units of.
        holding = [sku for sku, counts in mine if counts["reserved"] > 0]
        roles = dict(zip(holding, ("sold_out", "oversold", "low", "discontinued"), strict=False))
        unknown = next((sku for sku, _ in reversed(mine) if sku not in roles), None)
        for sku, counts in mine:
            taken = counts["reserved"] + counts["consumed"]
            role = roles.get(sku, "plenty")
            entry: dict[str, Any] = {"sellerId": seller.seller_id, "sku": sku}
            buffer = 0
            if role == "sold_out":
                entry["onHand"] = taken
            elif role == "oversold":
                entry["onHand"] = taken - 1
            elif role == "low":
                entry["onHand"] = taken + 2
                entry["reorderPoint"] = REORDER_POINT
            elif role == "discontinued":
                entry["onHand"] = taken + 10
                entry["discontinued"] = True
            else:
                entry["onHand"] = taken + rng.randint(20, 80)
                if rng.random() < 0.4:
                    buffer = rng.randint(1, 3)
                    entry["safetyBuffer"] = buffer
            stock.append(entry)
            free = entry["onHand"] - taken  # on hand less reserved, once every order is in
            available = max(0, free - buffer)
            point = entry.get("reorderPoint", 3)  # the deployment's default reorder point
            discontinued = role == "discontinued"
            state = "discontinued" if discontinued else "invalid" if sku == unknown else \
                "in_stock" if available > 0 else "out_of_stock"
            expected[sku] = {"sellerId": seller.seller_id, "role": role if sku != unknown else "unknown_to_amazon",
                             "available": available, "state": state, "oversold": max(0, -free),
                             "onReorderList": not discontinued and free <= point,
                             "amazonQuantity": None if sku == unknown else 0 if discontinued else available}
            if sku != unknown:
                listings.append({"sellerId": seller.seller_id, "sku": sku, "asin": seller.asins.get(
                    sku.removeprefix(f"{seller.sku_prefix}-"), ""), "marketplaceIds": list(seller.marketplace_ids),
                    "quantity": entry["onHand"] + 5})  # what a stale connector last sent
    story.world["stock"] = stock
    story.world["listings"] = listings
    _fba(story)
    story.expected["stock"] = expected


def _fba(story: Story) -> None:
    """FBA quantities per marketplace of the "-FBA" SKUs the orders sell, each announced once;
    the first one moved again without a notification (the reconciliation's drift)."""
    skus = sorted({(e["sellerId"], item["product"]["sellerSku"], e["order"]["salesChannel"]["marketplaceId"])
                   for e in story.world["orders"] for item in e["order"]["orderItems"]
                   if item["product"]["sellerSku"].endswith("-FBA")})
    inventory, announced = [], []
    for index, (seller_id, sku, marketplace) in enumerate(skus):
        quantities = {"fulfillable": story.world_rng.randint(0, 120), "inbound": story.world_rng.randint(0, 30),
                      "reserved": story.world_rng.randint(0, 8), "unfulfillable": story.world_rng.randint(0, 2)}
        published = story.start + timedelta(days=1, minutes=index)
        payload = {"SellerId": seller_id, "FNSKU": f"X00{index:07d}", "ASIN": "", "SKU": sku,
                   "FulfillmentInventoryByMarketplace": [{
                       "MarketplaceId": marketplace, "ItemName": sku, "FulfillmentInventory": {
                           "InboundQuantityBreakdown": {"Working": 0, "Shipped": quantities["inbound"], "Receiving": 0},
                           "Fulfillable": quantities["fulfillable"], "Unfulfillable": quantities["unfulfillable"],
                           "Researching": 0,
                           "ReservedQuantityBreakdown": {"WarehouseProcessing": 0, "WarehouseTransfer": 0,
                                                         "PendingCustomerOrder": quantities["reserved"]},
                           "FutureSupplyBuyable": 0, "PendingCustomerOrderInTransit": 0},
                       "Stores": []}]}
        doc = envelope("FBA_INVENTORY_AVAILABILITY_CHANGES", payload, published, story.application_id,
                       fake_uuid(story.ids_rng), fake_uuid(story.ids_rng))
        story.notifications.append(Message(to_body(doc), "fba_inventory", published, f"fba:{sku}:{marketplace}",
                                           published))
        held = dict(quantities)
        if index == 0:
            held["fulfillable"] = max(0, held["fulfillable"] - 3)  # moved since, notification lost
        inventory.append({"sellerId": seller_id, "marketplaceId": marketplace, "sku": sku, **held})
        announced.append({"sellerId": seller_id, "marketplaceId": marketplace, "sku": sku,
                          "notified": quantities["fulfillable"], "amazon": held["fulfillable"]})
    story.world["fbaInventory"] = inventory
    story.expected["fba"] = announced
