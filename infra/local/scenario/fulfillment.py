"""The scenario's Multi-Channel Fulfillment part: the first seller also sells in its own web shop
and sends those orders to Amazon's warehouses (FBA stock, "-FBA" SKUs).

- world `fulfillmentOrders`: one order the seller made in Seller Central before sellerops ran,
  long complete, whose returned item Amazon receives once the simulator starts (sellerops hears
  of it from FULFILLMENT_ORDER_STATUS and follows it from then on);
- expected `shop_orders`: what the shop sends through POST /fulfillment-orders (the demo and the
  e2e tests send them; the last one is cancelled while Amazon still allows).

Recipients are made up, like the scenario's buyers.
"""
from __future__ import annotations

from datetime import timedelta

from infra.local.scenario.common import CATALOGUE, MARKETPLACES, Story

SHOP_ORDERS = 3


def _recipient(story: Story, country_marketplace: str) -> dict[str, str]:
    mp = MARKETPLACES[country_marketplace]
    rng = story.world_rng
    city, codes = rng.choice(mp.cities)
    street = mp.street_format.format(street=rng.choice(mp.streets), number=rng.randint(1, 120))
    return {"name": f"{rng.choice(mp.first_names)} {rng.choice(mp.last_names)}", "addressLine1": street,
            "city": city, "postalCode": rng.choice(codes), "countryCode": mp.country}


def tell(story: Story) -> None:
    seller = story.sellers[0]
    home = seller.home.marketplace_id
    products = list(CATALOGUE)[:3]
    seed_id = f"SC-{story.seed:04d}-0001"
    story.world["fulfillmentOrders"] = [{
        "sellerId": seller.seller_id,
        "receivedDate": (story.start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request": {
            "marketplaceId": home, "sellerFulfillmentOrderId": seed_id, "displayableOrderId": seed_id,
            "displayableOrderDate": (story.start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "displayableOrderComment": "Danke für Ihre Bestellung", "shippingSpeedCategory": "Standard",
            "destinationAddress": _recipient(story, home),
            "items": [{"sellerSku": f"{seller.sku_prefix}-{products[0].key}-FBA", "sellerFulfillmentOrderItemId": "1",
                       "quantity": 1}]},
        "returns": [{"sellerFulfillmentOrderItemId": "1", "reasonCode": "DAMAGED_BY_CARRIER"}],
    }]
    shop = []
    for number in range(1, SHOP_ORDERS + 1):
        product = products[number % len(products)]
        placed = story.start + timedelta(days=2, hours=number)
        shop.append({
            "sellerId": seller.seller_id, "marketplaceId": home,
            "sellerFulfillmentOrderId": f"SHOP-{story.seed:04d}-{number:04d}",
            "displayableOrderId": f"{10000 + number}", "displayableOrderDate": placed.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "displayableOrderComment": "Thank you for shopping with us", "shippingSpeedCategory": "Standard",
            "destinationAddress": _recipient(story, home),
            "items": [{"sellerSku": f"{seller.sku_prefix}-{product.key}-FBA", "sellerFulfillmentOrderItemId": "1",
                       "quantity": 1 + number % 2}]})
    story.expected["shop_orders"] = shop
    story.expected["fulfillment_seeds"] = [seed_id]
