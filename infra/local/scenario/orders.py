"""The orders' part of the story: each order's life (created, paid, shipped in one parcel or two,
cancelled, unfulfillable...) as Amazon holds it now (Orders API v2026-01-01 `Order`, the world's
`orders`) and as the ORDER_CHANGE notifications it published on the way.

How money is shown (read this before writing invoice or settlement code against it):

- All amounts are `decimal.Decimal`, quantized to the cent, and serialized as strings
  (`{"amount": "12.34", "currencyCode": "EUR"}`), never floats, as the Orders API does.
- `product.price.unitPrice` is the VAT-inclusive shelf price the buyer saw (EU prices to
  consumers always include VAT). For simplicity B2B prices (`priceDesignation` BUSINESS_PRICE)
  are treated the same way: VAT-inclusive, VAT extracted with the same formula.
- VAT is extracted per charge (the item line, its shipping, its discount):
  `tax = gross * rate / (1 + rate)`, rounded half-up to the cent.
- The proceeds breakdowns carry *net* amounts plus a separate TAX line, so that
  ITEM + SHIPPING + DISCOUNT + TAX == proceedsTotal (per item) and == grandTotal (per order),
  exactly, like Amazon's own getOrder example. Amazon does not document whether EU `ITEM`
  subtotals include VAT; this is our reading, chosen so the numbers reconcile.
- Orders ship to the marketplace's own country. A merchant-fulfilled (MFN) order on another
  marketplace than the seller's home one is an intra-EU distance sale: destination VAT, declared
  through the Union one-stop shop, hence `tax.taxCalculationBreakdowns[].reportingScheme = UOSS`.
- Business (B2B) buyers carry their VAT number in `tax.taxRegistrations` (entityType BUYER). Most
  merchant-fulfilled B2B orders are domestic; about a third go to a business in another EU
  country: an intra-Community supply, exempt, with no VAT charged (the buyer accounts for it:
  the reverse charge), so their TAX breakdowns are zero.
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from infra.local.scenario.common import (
    CATALOGUE,
    MARKETPLACES,
    ORDER_DAYS,
    SELLER_WEIGHTS,
    Marketplace,
    Message,
    Product,
    Seller,
    Story,
    _Ids,
    cents,
    end_of_day,
    envelope,
    fake_uuid,
    fill,
    iso,
    iso_ms,
    money,
    quota,
    start_of_day,
    to_body,
    vat_included,
)

# ORDER_CHANGE still speaks the Orders API v0 words; the Orders API v2026-01-01 has its own.
OLD_TO_NEW_STATUS = {
    "Pending": "PENDING",
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "InvoiceUnconfirmed": "SHIPPED",  # Brazil only: shipped, invoice not yet confirmed
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}

# The life an order has lived by "now", as shares of all orders; "shipped" takes the rest.
FATE_SHARES = {
    "cancelled": 0.06,  # buyer asks to cancel an unshipped order, seller cancels it
    "cancelled_unpaid": 0.02,  # cancelled while still pending (payment never completed)
    "partially_shipped": 0.03,  # MFN: one parcel out, the rest still to come
    "split_shipped": 0.03,  # MFN: two parcels, now fully shipped
    "unshipped": 0.08,  # paid, waiting to be shipped
    "pending": 0.03,  # payment not yet authorised
    "pending_availability": 0.015,  # pre-order, release date in the future
    "unfulfillable": 0.015,  # AFN: Amazon could not fulfil it
}
MFN_SHARE = 0.60
B2B_SHARE = 0.20
INTRA_EU_B2B_SHARE = 0.35  # of merchant-fulfilled B2B orders: to a business in another EU country
PROMOTION_SHARE = 0.12
FREE_SHIPPING_FROM = Decimal("29.00")  # MFN consumer orders below this pay shipping
MFN_SHIPPING = Decimal("4.99")
B2B_SHIPPING = Decimal("5.90")



# ---------------------------------------------------------------------------------------------
# The plan: orders as plain Python objects, before they are rendered as JSON.
# ---------------------------------------------------------------------------------------------


@dataclass
class Line:
    order_item_id: str
    product: Product
    asin: str
    sku: str
    quantity: int
    unit_gross: Decimal
    shipping_gross: Decimal = Decimal("0.00")
    discount_gross: Decimal = Decimal("0.00")  # positive; what the promotion took off
    promotion_id: str | None = None


@dataclass(frozen=True)
class Change:
    """One change Amazon announces with an ORDER_CHANGE notification."""

    at: datetime  # TimeOfOrderChange, strictly increasing along an order's life
    status: str  # OrderStatus in the notification's (v0) vocabulary
    shipped: tuple[int, ...]  # units shipped so far, per line
    change_type: str = "OrderStatusChange"
    reason: str = "NoReason"
    cancel_requested: bool = False


@dataclass
class Order:
    order_id: str
    seller: Seller
    marketplace: Marketplace
    afn: bool
    business: bool
    fate: str
    created: datetime
    lines: list[Line] = field(default_factory=list)
    buyer: dict = field(default_factory=dict)
    address: dict = field(default_factory=dict)
    ship_by: tuple[datetime, datetime] | None = None
    deliver_by: tuple[datetime, datetime] | None = None
    service_level: str = "STANDARD"
    prime: bool = False
    changes: list[Change] = field(default_factory=list)
    lost: bool = False  # Amazon never notified us about it

    @property
    def preorder(self) -> bool:
        return self.fate == "pending_availability"

    @property
    def cross_border(self) -> bool:
        # MFN parcels leave the seller's home warehouse; AFN stock sits in the buyer's country.
        return not self.afn and self.marketplace is not self.seller.home

    @property
    def intra_eu_business(self) -> bool:
        """An exempt intra-Community supply to a business: no VAT charged (reverse charge)."""
        return self.business and self.cross_border

    @property
    def vat_rate(self) -> Decimal:
        return Decimal("0") if self.intra_eu_business else self.marketplace.vat_rate

    @property
    def final(self) -> Change:
        return self.changes[-1]



# ---------------------------------------------------------------------------------------------
# Building the orders.
# ---------------------------------------------------------------------------------------------


def _assign_fates(count: int, rng: random.Random) -> list[str]:
    """Exact shares (not coin flips), so even a small scenario has every kind of order."""
    fates: list[str] = []
    for fate, share in FATE_SHARES.items():
        wanted = quota(share, count)
        if count >= 40:
            wanted = max(1, wanted)
        fates += [fate] * wanted
    fates = fates[:count]
    fates += ["shipped"] * (count - len(fates))
    rng.shuffle(fates)
    return fates


def _assign_channels(fates: list[str], rng: random.Random) -> list[bool]:
    """True for AFN (fulfilled by Amazon). Parcels split by the seller are MFN; only Amazon's
    own fulfilment reports Unfulfillable; the rest is filled up to the MFN share."""
    afn: list[bool | None] = [
        False if fate in ("partially_shipped", "split_shipped") else True if fate == "unfulfillable" else None
        for fate in fates
    ]
    free = [i for i, value in enumerate(afn) if value is None]
    mfn_needed = max(0, quota(MFN_SHARE, len(fates)) - afn.count(False))
    mfn = set(rng.sample(free, k=min(mfn_needed, len(free))))
    return [value if value is not None else (i not in mfn) for i, value in enumerate(afn)]


def _person(mp: Marketplace, rng: random.Random) -> str:
    return f"{rng.choice(mp.first_names)} {rng.choice(mp.last_names)}"


def _make_buyer_and_address(order: Order, rng: random.Random) -> None:
    mp = order.marketplace
    name = _person(mp, rng)
    city, postal_codes = rng.choice(mp.cities)
    order.buyer = {
        "buyerName": name,
        "buyerEmail": "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(15))
        + "@" + mp.email_domain,
    }
    address = {"name": name}
    if order.business:
        company = mp.company_format.format(last=rng.choice(mp.last_names), trade=rng.choice(mp.trades))
        order.buyer["buyerCompanyName"] = company
        if rng.random() < 0.5:
            order.buyer["buyerPurchaseOrderNumber"] = fill("PO-2026-####", rng)
        address["companyName"] = company
    street = mp.street_format.format(street=rng.choice(mp.streets), number=rng.randint(1, 140))
    address["addressLine1"] = street
    if rng.random() < 0.2:
        address["addressLine2"] = {"de": "Hinterhaus, 2. OG", "fr": "Bâtiment B, 3e étage",
                                   "it": "Scala C, interno 4", "es": "3º B",
                                   "nl": "2e verdieping"}[mp.language]
    address.update({
        "city": city,
        "postalCode": rng.choice(postal_codes),
        "countryCode": mp.country,
        "phone": fill(mp.phone_format, rng),
        "addressType": "COMMERCIAL" if order.business else "RESIDENTIAL",
    })
    order.address = address


def _make_lines(order: Order, rng: random.Random, ids: _Ids) -> None:
    seller, mp = order.seller, order.marketplace
    count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    products = rng.sample(CATALOGUE, k=count)
    for product in products:
        quantity = rng.randint(2, 10) if order.business else rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        # Separate SKUs for the FBA and the merchant-fulfilled offer is common practice.
        sku = f"{seller.sku_prefix}-{product.key}" + ("-FBA" if order.afn else "")
        line = Line(ids.order_item_id(), product, seller.asins[product.key], sku, quantity,
                    product.gross_price)
        if rng.random() < PROMOTION_SHARE:
            line.discount_gross = cents(line.unit_gross * quantity * Decimal("0.10"))
            line.promotion_id = f"{seller.sku_prefix}-AUTUMN10-{mp.country}"
        order.lines.append(line)
    # A parcel can only be split when there are at least two units.
    if (order.fate in ("partially_shipped", "split_shipped")
            and sum(order_line.quantity for order_line in order.lines) < 2):
        order.lines[0].quantity = 2
    # Shipping is charged once, on the first item, as Amazon attributes it to an item.
    if not order.afn:
        goods = sum(order_line.unit_gross * order_line.quantity - order_line.discount_gross
                    for order_line in order.lines)
        if order.business:
            order.lines[0].shipping_gross = B2B_SHIPPING
        elif goods < FREE_SHIPPING_FROM:
            order.lines[0].shipping_gross = MFN_SHIPPING


def _make_windows(order: Order, rng: random.Random) -> None:
    """The ship-by and deliver-by promises shown to the buyer at checkout."""
    if order.preorder:
        release = start_of_day(order.created + timedelta(days=rng.randint(12, 30)))
        ship_from, handling = release, 1
    else:
        ship_from, handling = order.created, (rng.randint(0, 1) if order.afn else rng.randint(1, 2))
    latest_ship = end_of_day(ship_from + timedelta(days=handling))
    transit = 1 if order.afn else 2 + (1 if order.cross_border else 0)
    order.ship_by = (ship_from, latest_ship)
    order.deliver_by = (start_of_day(latest_ship + timedelta(days=1)),
                        end_of_day(latest_ship + timedelta(days=transit + 1)))
    order.service_level = "EXPEDITED" if (not order.afn and rng.random() < 0.15) else "STANDARD"
    order.prime = order.afn  # FBA offers are Prime offers


def _first_parcel(lines: list[Line]) -> tuple[int, ...]:
    """What the first of two parcels carries: the first line, or part of a single line."""
    if len(lines) > 1:
        return (lines[0].quantity,) + (0,) * (len(lines) - 1)
    return (lines[0].quantity // 2,)


def _live(order: Order, rng: random.Random) -> None:
    """The order's life up to now, as the ORDER_CHANGE events Amazon would publish."""
    none = (0,) * len(order.lines)
    everything = tuple(line.quantity for line in order.lines)
    t = order.created
    changes = order.changes

    def later(low_minutes: float, high_minutes: float) -> datetime:
        nonlocal t
        t = t + timedelta(seconds=rng.randint(int(low_minutes * 60), int(high_minutes * 60)))
        return t

    if order.fate == "pending_availability":
        changes.append(Change(t, "PendingAvailability", none))
        return
    changes.append(Change(t, "Pending", none))  # TimeOfOrderChange = PurchaseDate
    if order.fate == "pending":
        return
    if order.fate == "cancelled_unpaid":
        changes.append(Change(later(30, 48 * 60), "Canceled", none))
        return
    changes.append(Change(later(2, 45), "Unshipped", none))  # payment authorised
    if order.fate == "unshipped":
        return
    if order.fate == "cancelled":
        # Amazon first tells the seller the buyer asks to cancel (the status does not change),
        # then announces the cancellation once the seller (or Amazon, for FBA) has done it.
        changes.append(Change(later(10, 5 * 60), "Unshipped", none, change_type="BuyerRequestedChange",
                              reason="Buyer Requested Cancel", cancel_requested=True))
        changes.append(Change(later(5, 3 * 60), "Canceled", none, cancel_requested=True))
        return
    if order.fate == "unfulfillable":
        changes.append(Change(later(12 * 60, 48 * 60), "Unfulfillable", none))
        return
    if order.fate in ("partially_shipped", "split_shipped"):
        changes.append(Change(later(3 * 60, 24 * 60), "PartiallyShipped", _first_parcel(order.lines)))
        if order.fate == "partially_shipped":
            return
        changes.append(Change(later(20 * 60, 60 * 60), "Shipped", everything))
        return
    hours = (2, 20) if order.afn else (3, 30)
    changes.append(Change(later(hours[0] * 60, hours[1] * 60), "Shipped", everything))


def _creation_time(fate: str, start: datetime, rng: random.Random) -> datetime:
    span = ORDER_DAYS * 24 * 3600
    if fate in ("pending", "unshipped", "partially_shipped"):
        # Orders still open "now" are the recent ones.
        return start + timedelta(seconds=span - rng.randint(1800, 20 * 3600))
    return start + timedelta(seconds=rng.randint(0, span - 3 * 24 * 3600))


def _plan_orders(count: int, sellers: list[Seller], start: datetime, rng: random.Random,
                 ids: _Ids) -> list[Order]:
    fates = _assign_fates(count, rng)
    afn = _assign_channels(fates, rng)
    business = set(rng.sample(range(count), k=quota(B2B_SHARE, count)))
    weights = [SELLER_WEIGHTS[i % len(SELLER_WEIGHTS)] for i in range(len(sellers))]
    orders = []
    for i, fate in enumerate(fates):
        seller = rng.choices(sellers, weights=weights)[0]
        is_b2b = i in business
        if is_b2b and not afn[i]:
            marketplace = seller.home  # mostly domestic; some go abroad, below
        else:
            # Sellers sell most at home.
            ids_ = seller.marketplace_ids
            marketplace = MARKETPLACES[rng.choices(ids_, weights=[3] + [1] * (len(ids_) - 1))[0]]
        order = Order(ids.order_id(), seller, marketplace, afn[i], is_b2b, fate,
                      _creation_time(fate, start, rng))
        if is_b2b and not afn[i]:
            # Its own stream, so that the rest of the world is drawn as before.
            abroad = random.Random(f"intra-eu:{order.order_id}")
            others = [m for m in seller.marketplace_ids if m != seller.home.marketplace_id]
            if others and abroad.random() < INTRA_EU_B2B_SHARE:
                order.marketplace = MARKETPLACES[abroad.choice(others)]
        _make_buyer_and_address(order, rng)
        _make_lines(order, rng, ids)
        _make_windows(order, rng)
        _live(order, rng)
        orders.append(order)
    orders.sort(key=lambda o: (o.created, o.order_id))
    return orders


# ---------------------------------------------------------------------------------------------
# Rendering an order as Orders API v2026-01-01 JSON.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Split:
    """A VAT-inclusive charge split into its net part and its VAT."""

    gross: Decimal
    tax: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.tax


def _split(gross: Decimal, rate: Decimal) -> _Split:
    return _Split(cents(gross), vat_included(gross, rate))


def _item_proceeds(line: Line, mp: Marketplace, rate: Decimal) -> dict:
    cur = mp.currency
    item = _split(line.unit_gross * line.quantity, rate)
    shipping = _split(line.shipping_gross, rate)
    discount = _split(-line.discount_gross, rate)
    breakdowns = [{"type": "ITEM", "subtotal": money(item.net, cur)}]
    taxes = [{"subtype": "ITEM", "value": money(item.tax, cur)}]
    if shipping.gross:
        breakdowns.append({"type": "SHIPPING", "subtotal": money(shipping.net, cur)})
        taxes.append({"subtype": "SHIPPING", "value": money(shipping.tax, cur)})
    if discount.gross:
        breakdowns.append({"type": "DISCOUNT", "subtotal": money(discount.net, cur),
                           "detailedBreakdowns": [{"subtype": "ITEM", "value": money(discount.net, cur)}]})
        taxes.append({"subtype": "DISCOUNT", "value": money(discount.tax, cur)})
    tax_total = item.tax + shipping.tax + discount.tax
    breakdowns.append({"type": "TAX", "subtotal": money(tax_total, cur), "detailedBreakdowns": taxes})
    total = item.gross + shipping.gross + discount.gross
    return {"proceedsTotal": money(total, cur), "breakdowns": breakdowns}


def _order_proceeds(items: list[dict], currency: str) -> dict:
    """Order-level proceeds: the item breakdowns added up per category."""
    totals: dict[str, Decimal] = {}
    for item in items:
        for part in item["proceeds"]["breakdowns"]:
            amount = Decimal(part["subtotal"]["amount"])
            totals[part["type"]] = totals.get(part["type"], Decimal("0")) + amount
    grand = sum((Decimal(i["proceeds"]["proceedsTotal"]["amount"]) for i in items), Decimal("0"))
    return {
        "grandTotal": money(grand, currency),
        "breakdowns": [{"type": kind, "subtotal": money(amount, currency)}
                       for kind, amount in totals.items()],
    }


def _render_item(order: Order, index: int, line: Line) -> dict:
    mp, final = order.marketplace, order.final
    cancelled = final.status == "Canceled"
    price: dict = {"unitPrice": money(line.unit_gross, mp.currency)}
    if order.business:
        price["priceDesignation"] = "BUSINESS_PRICE"
    item = {
        "orderItemId": line.order_item_id,
        "quantityOrdered": line.quantity,
        "product": {
            "asin": line.asin,
            "title": f"{order.seller.brand} {line.product.titles[mp.language]}",
            "sellerSku": line.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": price,
        },
    }
    if not cancelled:
        # Nothing was charged for a cancelled order (Orders API v0 showed no OrderTotal either).
        item["proceeds"] = _item_proceeds(line, mp, order.vat_rate)
    if line.promotion_id:
        item["promotion"] = {"breakdowns": [{"promotionId": line.promotion_id}]}
    if cancelled:
        item["cancellation"] = _cancellation(order)
    shipped = final.shipped[index]
    item["fulfillment"] = {
        "quantityFulfilled": shipped,
        # Nothing remains to ship in a cancelled order.
        "quantityUnfulfilled": 0 if cancelled else line.quantity - shipped,
    }
    if order.cross_border and not order.business:
        item["tax"] = {"taxCalculationBreakdowns": [{"reportingScheme": "UOSS"}]}
    return item


def _cancellation(order: Order) -> dict:
    """Who asked, who cancelled. The seller cancels what it ships itself; Amazon cancels FBA
    orders, and orders whose payment never completed."""
    if not order.final.cancel_requested:
        return {"cancellationExecution": {"cancelledBy": "AMAZON", "cancelReason": "PAYMENT_NOT_COMPLETED"}}
    return {
        "cancellationRequest": {"requester": "BUYER", "cancelReason": "BUYER_CANCELED"},
        "cancellationExecution": {"cancelledBy": "AMAZON" if order.afn else "MERCHANT",
                                  "cancelReason": "BUYER_CANCELED"},
    }


def _render_packages(order: Order, rng: random.Random) -> list[dict]:
    """One parcel per shipping change, for merchant-fulfilled orders only (as the model says)."""
    packages: list[dict] = []
    before = (0,) * len(order.lines)
    carrier, service, tracking = rng.choice(order.seller.home.carriers)
    for change in order.changes:
        if change.status not in ("PartiallyShipped", "Shipped") or change.shipped == before:
            continue
        content = [(line, now - then) for line, now, then in zip(order.lines, change.shipped, before, strict=False)
                   if now > then]
        before = change.shipped
        packages.append({
            "packageReferenceId": str(len(packages) + 1),
            "createdTime": iso(change.at - timedelta(minutes=rng.randint(20, 180))),
            "packageStatus": {"status": "IN_TRANSIT", "detailedStatus": "PICKED_UP"},
            "carrier": carrier,
            "shipTime": iso(change.at),
            "shippingService": service,
            "trackingNumber": fill(tracking, rng),
            "shipFromAddress": dict(order.seller.warehouse),
            "packageItems": [{"orderItemId": line.order_item_id, "quantity": qty} for line, qty in content],
        })
    return packages


def buyer_vat_number(order: Order) -> str:
    """The business buyer's VAT number, in its country's format (drawn from the order's id, so
    the world's other draws stay as they were)."""
    rng = random.Random(f"vat:{order.order_id}")
    country = order.marketplace.country
    digits = "".join(rng.choice(string.digits) for _ in range(11))
    return {"DE": f"DE{digits[:9]}", "FR": f"FR{digits[:2]}{digits[2:11]}", "IT": f"IT{digits}",
            "ES": f"ESB{digits[:8]}", "NL": f"NL{digits[:9]}B01"}.get(country, f"{country}{digits[:9]}")


def _programs(order: Order) -> list[str]:
    programs = []
    if order.business:
        programs.append("AMAZON_BUSINESS")
    if order.prime:
        programs.append("PRIME")
    if order.preorder:
        programs.append("PREORDER")
    return programs


def render_order(order: Order, rng: random.Random) -> dict:
    """The order as getOrder (all includedData) would return it after its last change."""
    mp, final = order.marketplace, order.final
    assert order.ship_by is not None and order.deliver_by is not None  # set when the order is generated
    status = OLD_TO_NEW_STATUS[final.status]
    doc: dict = {
        "orderId": order.order_id,
        "createdTime": iso(order.created),
        "lastUpdatedTime": iso(final.at),
        "programs": _programs(order),
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": mp.marketplace_id,
                         "marketplaceName": mp.name},
    }
    if status in ("PENDING", "PENDING_AVAILABILITY"):
        # Until payment is authorised Amazon shares no buyer data, only where the parcel goes.
        where = {k: order.address[k] for k in ("city", "postalCode", "countryCode")}
        doc["recipient"] = {"deliveryAddress": where}
    else:
        buyer = dict(order.buyer)
        address = dict(order.address)
        if order.afn:
            # The model: buyerEmail is FBM-only, and FBA orders never show the buyer's phone.
            buyer.pop("buyerEmail")
            address.pop("phone")
        doc["buyer"] = buyer
        doc["recipient"] = {"deliveryAddress": address}
    items = [_render_item(order, i, line) for i, line in enumerate(order.lines)]
    if status != "CANCELLED":
        doc["proceeds"] = _order_proceeds(items, mp.currency)
    if order.business and status not in ("PENDING", "PENDING_AVAILABILITY"):
        doc["tax"] = {"taxRegistrations": [{
            "entityType": "BUYER", "legalName": order.buyer.get("buyerCompanyName"),
            "taxRegistrationType": "VAT", "taxRegistrationNumber": buyer_vat_number(order)}]}
    doc["fulfillment"] = {
        "fulfillmentStatus": status,
        "fulfilledBy": "AMAZON" if order.afn else "MERCHANT",
        "fulfillmentServiceLevel": order.service_level,
        "shipByWindow": {"earliestDateTime": iso(order.ship_by[0]), "latestDateTime": iso(order.ship_by[1])},
        "deliverByWindow": {"earliestDateTime": iso(order.deliver_by[0]),
                            "latestDateTime": iso(order.deliver_by[1])},
    }
    doc["orderItems"] = items
    if not order.afn:
        packages = _render_packages(order, rng)
        if packages:
            doc["packages"] = packages
    return doc


# ---------------------------------------------------------------------------------------------
# Rendering changes as ORDER_CHANGE notifications (Amazon's PascalCase envelope).
# ---------------------------------------------------------------------------------------------


def _summary(order: Order, change: Change) -> dict:
    mp = order.marketplace
    assert order.ship_by is not None and order.deliver_by is not None  # set when the order is generated
    shipped = sum(change.shipped)
    cancelled = change.status == "Canceled"
    summary: dict = {
        "MarketplaceId": mp.marketplace_id,
        "OrderStatus": change.status,
        "PurchaseDate": iso_ms(order.created),
        "DestinationPostalCode": order.address["postalCode"],
        "FulfillmentType": "AFN" if order.afn else "MFN",
        "OrderType": "Preorder" if order.preorder else "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if cancelled else sum(line.quantity for line in order.lines) - shipped,
    }
    # The schema: delivery dates are "returned only for seller-fulfilled orders", and the latest
    # one not while Pending, PendingAvailability or Canceled.
    with_delivery = not order.afn
    with_latest = with_delivery and change.status not in ("Pending", "PendingAvailability", "Canceled")
    if with_delivery:
        summary["EarliestDeliveryDate"] = iso_ms(order.deliver_by[0])
    if with_latest:
        summary["LatestDeliveryDate"] = iso_ms(order.deliver_by[1])
    summary["EarliestShipDate"] = iso_ms(order.ship_by[0])
    summary["LatestShipDate"] = iso_ms(order.ship_by[1])
    programs = (["Business"] if order.business else []) + (["Prime"] if order.prime else [])
    if programs:
        summary["OrderPrograms"] = programs
    # OrderItemStatus is only shown "when items' status are different".
    item_states = ["Shipped" if done == line.quantity else "Unshipped"
                   for line, done in zip(order.lines, change.shipped, strict=False)]
    mixed = len(set(item_states)) > 1
    items = []
    for line, done, state in zip(order.lines, change.shipped, item_states, strict=False):
        item: dict = {
            "OrderItemId": line.order_item_id,
            "SellerSKU": line.sku,
            "SupplySourceId": None if order.afn else order.seller.supply_source_id,
        }
        if mixed:
            item["OrderItemStatus"] = state
        item.update({"Quantity": line.quantity, "QuantityShipped": done,
                     "IsBuyerRequestedCancel": change.cancel_requested})
        if with_delivery:
            item["ItemEarliestDeliveryDate"] = iso_ms(order.deliver_by[0])
        if with_latest:
            item["ItemLatestDeliveryDate"] = iso_ms(order.deliver_by[1])
        items.append(item)
    summary["OrderItems"] = items
    return summary


def order_change_notification(order: Order, change: Change, published: datetime, application_id: str,
                              notification_id: str) -> dict:
    payload = {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel",  # one payload for the whole order
        "SellerId": order.seller.seller_id,
        "AmazonOrderId": order.order_id,
        "OrderChangeType": change.change_type,
        "OrderChangeTrigger": {"TimeOfOrderChange": iso_ms(change.at), "ChangeReason": change.reason},
        "Summary": _summary(order, change),
    }}
    return envelope("ORDER_CHANGE", payload, published, application_id, order.seller.subscription_id,
                     notification_id)


def _published(change: Change, rng: random.Random) -> datetime:
    # Amazon publishes seconds after the change. Kept under the shortest gap between two changes
    # (2 minutes), so that any reordering is the delivery's doing, as `shuffle_window` says.
    return change.at + timedelta(milliseconds=rng.randint(1500, 90_000))



# ---------------------------------------------------------------------------------------------
# The orders' part of the story.
# ---------------------------------------------------------------------------------------------


def tell(story: Story, *, orders: int, lost: int) -> None:
    """Plan `orders` orders (`lost` of them never notified), render them into the world, and
    publish their changes."""
    planned = _plan_orders(orders, story.sellers, story.start, story.world_rng, story.ids)
    for order in story.world_rng.sample(planned, k=lost):
        order.lost = True
    story.world["orders"] = [{"sellerId": o.seller.seller_id, "order": render_order(o, story.world_rng)}
                             for o in planned]
    for order in planned:
        if order.lost:
            continue
        for change in order.changes:
            published = _published(change, story.ids_rng)
            doc = order_change_notification(order, change, published, story.application_id,
                                            fake_uuid(story.ids_rng))
            story.documents.append(doc)
            story.notifications.append(Message(to_body(doc), "order_change", published, order.order_id, change.at))
    story.expected["orders"] = {
        o.order_id: {
            "status": OLD_TO_NEW_STATUS[o.final.status],
            "sellerId": o.seller.seller_id,
            "marketplaceId": o.marketplace.marketplace_id,
            "fulfilledBy": "AMAZON" if o.afn else "MERCHANT",
            "isBusiness": o.business,
            "notified": not o.lost,
        }
        for o in planned
    }
