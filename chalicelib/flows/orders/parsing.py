"""What Amazon says about orders, read into the flow's rules, pure:

- an ORDER_CHANGE notification → `OrderChange` (status, items, dates; no prices, taxes or buyer:
  Amazon sends none);
- an Orders API v2026-01-01 `Order` → the money (`OrderDetails`), the status as a change
  (`OrderChange`, so a lost notification is healed by what Amazon reports), and the buyer's
  personal data, which is kept apart and encrypted.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core import fields
from chalicelib.core.envelope import Notification, get
from chalicelib.core.errors import InvalidNotification, PermanentError
from chalicelib.core.money import Money, MoneyError
from chalicelib.core.times import iso
from chalicelib.flows.orders.rules import (
    LineMoney,
    OrderChange,
    OrderDetails,
    OrderLine,
    Package,
    UnknownStatus,
    to_status,
)

ORDER_CHANGE = "ORDER_CHANGE"


# --- ORDER_CHANGE ---------------------------------------------------------------------------

MAX_ITEMS = 500  # an order's lines: far above any real order, far below what one row holds


def parse_order_change(notification: Notification) -> OrderChange:
    """ORDER_CHANGE payload → `OrderChange` (no prices, taxes or buyer: Amazon sends none).
    Every field is typed and bounded (core/fields.py); anything else is an InvalidNotification
    naming the field."""
    body = get(notification.payload, "OrderChangeNotification")
    if not isinstance(body, Mapping):
        raise InvalidNotification(
            f"{notification.label}: Payload.OrderChangeNotification is missing")
    where = f"{notification.label}: "
    strict: dict[str, Any] = {"error": InvalidNotification, "what": where}
    order_id = fields.required_text(_stripped(get(body, "AmazonOrderId")), "AmazonOrderId",
                                    pattern=fields.ORDER_ID, **strict)
    seller_id = fields.text(get(body, "SellerId"), "SellerId", pattern=fields.SELLER_ID, **strict)
    seller_id = seller_id or notification.seller_id
    if not seller_id:
        raise InvalidNotification(f"{where}SellerId is missing")
    summary = get(body, "Summary") or {}
    if not isinstance(summary, Mapping):
        raise InvalidNotification(f"{where}Summary must be an object")
    try:
        status = to_status(get(summary, "OrderStatus"))
    except UnknownStatus as exc:
        raise InvalidNotification(f"{where}{exc}") from None
    trigger = get(body, "OrderChangeTrigger") or {}
    if not isinstance(trigger, Mapping):
        raise InvalidNotification(f"{where}OrderChangeTrigger must be an object")
    # The change's own time orders changes; EventTime is when Amazon published the event.
    changed_at = (fields.moment(get(trigger, "TimeOfOrderChange"), "OrderChangeTrigger.TimeOfOrderChange", **strict)
                  or notification.event_time)
    if changed_at is None:
        raise InvalidNotification(f"{where}neither TimeOfOrderChange nor EventTime is given")

    items = get(summary, "OrderItems") or []
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise InvalidNotification(f"{where}Summary.OrderItems must be a list of at most {MAX_ITEMS} items")
    lines = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidNotification(f"{where}OrderItems[{index}] must be an object")
        lines.append(OrderLine(
            order_item_id=fields.required_text(get(item, "OrderItemId"), f"OrderItems[{index}].OrderItemId",
                                               pattern=fields.ITEM_ID, **strict),
            sku=fields.text(get(item, "SellerSKU"), f"OrderItems[{index}].SellerSKU", **strict),
            quantity=fields.whole(get(item, "Quantity"), f"OrderItems[{index}].Quantity", **strict),
            quantity_shipped=fields.whole(get(item, "QuantityShipped"), f"OrderItems[{index}].QuantityShipped",
                                          **strict),
        ))

    programs = fields.strings(get(summary, "OrderPrograms"), "Summary.OrderPrograms", **strict)
    return OrderChange(
        seller_id=seller_id,
        order_id=order_id,
        marketplace_id=fields.text(get(summary, "MarketplaceId"), "Summary.MarketplaceId",
                                   pattern=fields.MARKETPLACE_ID, **strict),
        status=status,
        changed_at=changed_at,
        notification_id=notification.notification_id,
        fulfillment_channel=fields.text(get(summary, "FulfillmentType"), "Summary.FulfillmentType", limit=20,
                                        **strict),
        order_type=fields.text(get(summary, "OrderType"), "Summary.OrderType", limit=40, **strict),
        is_business="Business" in programs,
        is_prime="Prime" in programs,
        purchase_date=fields.moment(get(summary, "PurchaseDate"), "Summary.PurchaseDate", **strict),
        ship_by=(fields.moment(get(summary, "EarliestShipDate"), "Summary.EarliestShipDate", **strict),
                 fields.moment(get(summary, "LatestShipDate"), "Summary.LatestShipDate", **strict)),
        deliver_by=(fields.moment(get(summary, "EarliestDeliveryDate"), "Summary.EarliestDeliveryDate", **strict),
                    fields.moment(get(summary, "LatestDeliveryDate"), "Summary.LatestDeliveryDate", **strict)),
        lines=tuple(lines),
        # EasyShip orders say when Amazon delivered them: the buyer data's 30 days run from then.
        delivered_at=changed_at if fields.text(get(summary, "EasyShipShipmentStatus"), "Summary.EasyShipShipmentStatus",
                                               limit=60, **strict) == "Delivered" else None,
        change_type=fields.text(get(body, "OrderChangeType"), "OrderChangeType", limit=60, **strict),
        change_reason=fields.text(get(trigger, "ChangeReason"), "OrderChangeTrigger.ChangeReason", limit=200,
                                  **strict),
    )


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


# --- Orders API v2026-01-01 Order ------------------------------------------------------------


# What we ask getOrder for. BUYER and RECIPIENT carry personal data (no Restricted Data Token
# is needed in v2026-01-01; the app's roles decide), kept only for invoices and shipping.
INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "PROMOTION", "FULFILLMENT", "PACKAGES", "TAX", "CANCELLATION")


class InvalidOrder(PermanentError):
    """Amazon's answer is not an order we can read (a task that fails, with this reason)."""


class MoneyProblem(InvalidOrder):
    """The order's money cannot be taken as exact (an amount not a plain decimal, more decimals
    than its currency has, a currency not in ISO 4217, two currencies in one order): the order
    is kept, without money, and marked as needing attention with this reason."""


MAX_PACKAGES = 100


def _strict(order_id: Any = None) -> dict[str, Any]:
    where = f"Amazon order {str(order_id)[:fields.QUOTE]}: " if isinstance(order_id, str) else "Amazon order: "
    return {"error": InvalidOrder, "what": where}


def _object(value: Any, field: str, strict: dict[str, Any]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidOrder(f"{strict['what']}{field} must be an object")
    return value


def _list(value: Any, field: str, strict: dict[str, Any], limit: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit:
        raise InvalidOrder(f"{strict['what']}{field} must be a list of at most {limit}")
    return value


def _money(value: Any, field: str, strict: dict[str, Any]) -> Money | None:
    try:
        return Money.from_amazon(value)
    except MoneyError as exc:
        raise MoneyProblem(f"{strict['what']}{field}: {exc}") from None


def _breakdowns(entries: Any, field: str, strict: dict[str, Any]) -> dict[str, Money]:
    result: dict[str, Money] = {}
    for index, entry in enumerate(_list(entries, field, strict, 50)):
        entry = _object(entry, f"{field}[{index}]", strict)
        kind = fields.text(entry.get("type"), f"{field}[{index}].type", limit=40, **strict)
        amount = _money(entry.get("subtotal"), f"{field}[{index}].subtotal", strict)
        if kind and amount is not None:
            result[kind] = result[kind] + amount if kind in result else amount
    return result


def _detailed(entries: Any, kind: str, field: str, strict: dict[str, Any]) -> dict[str, Money]:
    """TAX breakdown split by what it is levied on (ITEM, SHIPPING, ...)."""
    for entry in _list(entries, field, strict, 50):
        if isinstance(entry, Mapping) and entry.get("type") == kind:
            split = {}
            for index, detail in enumerate(_list(entry.get("detailedBreakdowns"), f"{field}.{kind}", strict, 50)):
                detail = _object(detail, f"{field}.{kind}[{index}]", strict)
                subtype = fields.text(detail.get("subtype"), f"{field}.{kind}[{index}].subtype", limit=40, **strict)
                money = _money(detail.get("value"), f"{field}.{kind}[{index}].value", strict)
                if subtype and money is not None:
                    split[subtype] = money
            return split
    return {}


def _line(item: Any, index: int, strict: dict[str, Any]) -> LineMoney:
    where = f"orderItems[{index}]"
    item = _object(item, where, strict)
    product = _object(item.get("product"), f"{where}.product", strict)
    proceeds = _object(item.get("proceeds"), f"{where}.proceeds", strict)
    breakdown = _breakdowns(proceeds.get("breakdowns"), f"{where}.proceeds.breakdowns", strict)
    tax_split = _detailed(proceeds.get("breakdowns"), "TAX", f"{where}.proceeds.breakdowns", strict)
    promotions = _list(_object(item.get("promotion"), f"{where}.promotion", strict).get("breakdowns"),
                       f"{where}.promotion.breakdowns", strict, 50)
    return LineMoney(
        order_item_id=fields.required_text(item.get("orderItemId"), f"{where}.orderItemId", pattern=fields.ITEM_ID,
                                           **strict),
        sku=fields.text(product.get("sellerSku"), f"{where}.product.sellerSku", **strict),
        asin=fields.text(product.get("asin"), f"{where}.product.asin", limit=20, **strict),
        title=fields.text(product.get("title"), f"{where}.product.title", limit=1000, **strict),
        quantity=fields.whole(item.get("quantityOrdered"), f"{where}.quantityOrdered", **strict),
        unit_price=_money(_object(product.get("price"), f"{where}.product.price", strict).get("unitPrice"),
                          f"{where}.product.price.unitPrice", strict),
        item=breakdown.get("ITEM"),
        shipping=breakdown.get("SHIPPING"),
        discount=breakdown.get("DISCOUNT"),
        tax=breakdown.get("TAX"),
        item_tax=tax_split.get("ITEM"),
        shipping_tax=tax_split.get("SHIPPING"),
        gift_wrap=breakdown.get("GIFT_WRAP"),
        gift_wrap_tax=tax_split.get("GIFT_WRAP"),
        discount_tax=tax_split.get("DISCOUNT"),
        total=_money(proceeds.get("proceedsTotal"), f"{where}.proceeds.proceedsTotal", strict),
        promotion_ids=tuple(fields.required_text(p.get("promotionId"), f"{where}.promotion.promotionId", limit=100,
                                                 **strict)
                            for p in promotions if isinstance(p, Mapping) and p.get("promotionId")),
    )


@dataclass(frozen=True)
class _Facts:
    """What getOrder says about an order besides its money."""

    order_id: str
    status: Any
    as_of: datetime
    created_time: datetime | None
    marketplace_id: str | None
    fulfilled_by: str | None
    programs: tuple[str, ...]
    packages: tuple[Package, ...]


def _package_item(item: Any, where: str, strict: dict[str, Any]) -> tuple[str, int]:
    item = _object(item, where, strict)
    return (fields.required_text(item.get("orderItemId"), f"{where}.orderItemId", pattern=fields.ITEM_ID, **strict),
            fields.whole(item.get("quantity"), f"{where}.quantity", **strict))


def _facts(order: Any) -> _Facts:
    if not isinstance(order, Mapping):
        raise InvalidOrder("Amazon's answer is not an order object")
    strict = _strict(order.get("orderId"))
    order_id = fields.required_text(order.get("orderId"), "orderId", pattern=fields.ORDER_ID, **_strict())
    fulfillment = _object(order.get("fulfillment"), "fulfillment", strict)
    try:
        status = to_status(fulfillment.get("fulfillmentStatus"))
    except UnknownStatus as exc:
        raise InvalidOrder(f"{strict['what']}{exc}") from None
    created_time = fields.moment(order.get("createdTime"), "createdTime", **strict)
    as_of = fields.moment(order.get("lastUpdatedTime"), "lastUpdatedTime", **strict) or created_time
    if as_of is None:
        raise InvalidOrder(f"{strict['what']}lastUpdatedTime is missing")
    packages = []
    for index, p in enumerate(_list(order.get("packages"), "packages", strict, MAX_PACKAGES)):
        p = _object(p, f"packages[{index}]", strict)
        packages.append(Package(
            package_reference_id=fields.text(p.get("packageReferenceId"), f"packages[{index}].packageReferenceId",
                                             limit=100, **strict) or "",
            carrier=fields.text(p.get("carrier"), f"packages[{index}].carrier", limit=100, **strict),
            tracking_number=fields.text(p.get("trackingNumber"), f"packages[{index}].trackingNumber", limit=100,
                                        **strict),
            ship_time=fields.moment(p.get("shipTime"), f"packages[{index}].shipTime", **strict),
            status=fields.text(_object(p.get("packageStatus"), f"packages[{index}].packageStatus", strict)
                               .get("status"), f"packages[{index}].packageStatus.status", limit=60, **strict),
            items=tuple(_package_item(item, f"packages[{index}].packageItems[{n}]", strict) for n, item in
                        enumerate(_list(p.get("packageItems"), f"packages[{index}].packageItems", strict, MAX_ITEMS))),
        ))
    channel = _object(order.get("salesChannel"), "salesChannel", strict)
    return _Facts(
        order_id=order_id, status=status, as_of=as_of, created_time=created_time,
        marketplace_id=fields.text(channel.get("marketplaceId"), "salesChannel.marketplaceId",
                                   pattern=fields.MARKETPLACE_ID, **strict),
        fulfilled_by=fields.text(fulfillment.get("fulfilledBy"), "fulfillment.fulfilledBy", limit=20, **strict),
        programs=fields.strings(order.get("programs"), "programs", **strict),
        packages=tuple(packages),
    )


def order_details(order: Mapping[str, Any]) -> OrderDetails:
    """The money side of an Amazon order, exact to the cent, as Amazon computed it. Raises
    MoneyProblem when the money cannot be taken as exact, InvalidOrder for anything else."""
    facts = _facts(order)
    strict = _strict(facts.order_id)
    proceeds = _object(order.get("proceeds"), "proceeds", strict)
    grand_total = _money(proceeds.get("grandTotal"), "proceeds.grandTotal", strict)
    lines = tuple(_line(item, i, strict) for i, item in enumerate(_list(order.get("orderItems"), "orderItems",
                                                                         strict, MAX_ITEMS)))
    breakdown = _breakdowns(proceeds.get("breakdowns"), "proceeds.breakdowns", strict)
    amounts = [m for m in (grand_total, *breakdown.values()) if m is not None]
    for line in lines:
        amounts += [m for m in (line.unit_price, line.item, line.shipping, line.discount, line.tax, line.item_tax,
                                line.shipping_tax, line.total, line.gift_wrap, line.gift_wrap_tax, line.discount_tax)
                    if m is not None]
    currencies = sorted({m.currency for m in amounts})
    if len(currencies) > 1:
        raise MoneyProblem(f"{strict['what']}its amounts mix {', '.join(currencies[:4])}: one order has one currency")
    return OrderDetails(
        as_of=facts.as_of,
        status=facts.status,
        currency=currencies[0] if currencies else None,
        grand_total=grand_total,
        breakdown=breakdown,
        lines=lines,
        packages=facts.packages,
        programs=facts.programs,
        marketplace_id=facts.marketplace_id,
        fulfilled_by=facts.fulfilled_by,
        created_time=facts.created_time,
    )


def order_change(seller_id: str, order: Mapping[str, Any]) -> OrderChange:
    """Amazon's current view of the order as a change, stamped with its lastUpdatedTime (its
    money is not read here: an order whose money needs attention still heals its status)."""
    facts = _facts(order)
    strict = _strict(facts.order_id)
    fulfillment = _object(order.get("fulfillment"), "fulfillment", strict)
    ship = _object(fulfillment.get("shipByWindow"), "fulfillment.shipByWindow", strict)
    deliver = _object(fulfillment.get("deliverByWindow"), "fulfillment.deliverByWindow", strict)
    channel = {"MERCHANT": "MFN", "AMAZON": "AFN"}.get(facts.fulfilled_by or "")
    lines = []
    for index, item in enumerate(_list(order.get("orderItems"), "orderItems", strict, MAX_ITEMS)):
        item = _object(item, f"orderItems[{index}]", strict)
        lines.append(OrderLine(
            order_item_id=fields.required_text(item.get("orderItemId"), f"orderItems[{index}].orderItemId",
                                               pattern=fields.ITEM_ID, **strict),
            sku=fields.text(_object(item.get("product"), f"orderItems[{index}].product", strict).get("sellerSku"),
                            f"orderItems[{index}].product.sellerSku", **strict),
            quantity=fields.whole(item.get("quantityOrdered"), f"orderItems[{index}].quantityOrdered", **strict),
            quantity_shipped=fields.whole(
                _object(item.get("fulfillment"), f"orderItems[{index}].fulfillment", strict).get("quantityFulfilled"),
                f"orderItems[{index}].fulfillment.quantityFulfilled", **strict),
        ))
    deliver_by = (fields.moment(deliver.get("earliestDateTime"), "deliverByWindow.earliestDateTime", **strict),
                  fields.moment(deliver.get("latestDateTime"), "deliverByWindow.latestDateTime", **strict))
    # Delivered: getOrder says so (a package DELIVERED) but not when. Amazon last changed the
    # order at or after the delivery; the promised latest delivery caps it, so that buyer data is
    # never kept longer for the want of a date (a late parcel's data goes a little early).
    delivered_at = None
    if any(p.status == "DELIVERED" for p in facts.packages):
        delivered_at = min(facts.as_of, deliver_by[1]) if deliver_by[1] else facts.as_of
    return OrderChange(
        seller_id=seller_id,
        order_id=facts.order_id,
        marketplace_id=facts.marketplace_id,
        status=facts.status,
        changed_at=facts.as_of,
        notification_id=f"getOrder@{iso(facts.as_of)}",
        fulfillment_channel=channel,
        # getOrder has no order type; ORDER_CHANGE says StandardOrder unless it is a pre-order.
        order_type="Preorder" if "PREORDER" in facts.programs else "StandardOrder",
        is_business="AMAZON_BUSINESS" in facts.programs,
        is_prime="PRIME" in facts.programs,
        purchase_date=facts.created_time,
        ship_by=(fields.moment(ship.get("earliestDateTime"), "shipByWindow.earliestDateTime", **strict),
                 fields.moment(ship.get("latestDateTime"), "shipByWindow.latestDateTime", **strict)),
        deliver_by=deliver_by,
        lines=tuple(lines),
        source="getOrder",
        delivered_at=delivered_at,
    )


def personal_data(order: Mapping[str, Any]) -> dict[str, Any]:
    """Only what invoices and shipping need: buyer identity and the delivery address (strings,
    each bounded; anything else of Amazon's answer is left out)."""
    strict = _strict(order.get("orderId"))
    buyer = _object(order.get("buyer"), "buyer", strict)
    address = _object(_object(order.get("recipient"), "recipient", strict).get("deliveryAddress"),
                      "recipient.deliveryAddress", strict)
    keep_buyer = ("buyerName", "buyerEmail", "buyerCompanyName", "buyerPurchaseOrderNumber")
    keep_address = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3", "city",
                    "districtOrCounty", "stateOrRegion", "municipality", "postalCode", "countryCode", "phone",
                    "addressType")
    registrations = []
    for index, entry in enumerate(_list(_object(order.get("tax"), "tax", strict).get("taxRegistrations"),
                                        "tax.taxRegistrations", strict, 20)):
        entry = _object(entry, f"tax.taxRegistrations[{index}]", strict)
        registrations.append({k: fields.text(v, f"tax.taxRegistrations[{index}]", limit=500, personal=True, **strict)
                              for k, v in list(entry.items())[:10] if isinstance(k, str) and isinstance(v, str)})
    return {
        "buyer": {k: fields.text(buyer[k], f"buyer.{k}", limit=500, personal=True, **strict)
                  for k in keep_buyer if buyer.get(k)},
        "delivery_address": {k: fields.text(address[k], f"recipient.deliveryAddress.{k}", limit=500, personal=True,
                                            **strict)
                             for k in keep_address if address.get(k)},
        "tax_registrations": registrations,
    }
