"""What Amazon says about orders, read into the flow's rules, pure:

- an ORDER_CHANGE notification → `OrderChange` (status, items, dates; no prices, taxes or buyer:
  Amazon sends none);
- an Orders API v2026-01-01 `Order` → the money (`OrderDetails`), the status as a change
  (`OrderChange`, so a lost notification is healed by what Amazon reports), and the buyer's
  personal data, which is kept apart and encrypted.
"""
from __future__ import annotations

from collections.abc import Mapping
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
    pass


def _time(value: Any, field: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidOrder(f"Amazon order: {field} {str(value)[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise InvalidOrder(f"Amazon order: {field} has no time zone")
    return moment


def _money(value: Any, field: str) -> Money | None:
    try:
        return Money.from_amazon(value)
    except MoneyError as exc:
        raise InvalidOrder(f"Amazon order: {field}: {exc}") from None


def _breakdowns(entries: Any, field: str) -> dict[str, Money]:
    result: dict[str, Money] = {}
    for index, entry in enumerate(entries or []):
        kind = entry.get("type")
        amount = _money(entry.get("subtotal"), f"{field}[{index}].subtotal")
        if kind and amount is not None:
            result[kind] = result[kind] + amount if kind in result else amount
    return result


def _detailed(entries: Any, kind: str) -> dict[str, Money]:
    """TAX breakdown split by what it is levied on (ITEM, SHIPPING, ...)."""
    for entry in entries or []:
        if entry.get("type") == kind:
            return {
                d.get("subtype"): m
                for d in entry.get("detailedBreakdowns") or []
                if (m := _money(d.get("value"), f"{kind}.detailedBreakdowns")) is not None and d.get("subtype")
            }
    return {}


def _line(item: Mapping[str, Any], index: int) -> LineMoney:
    product = item.get("product") or {}
    proceeds = item.get("proceeds") or {}
    breakdown = _breakdowns(proceeds.get("breakdowns"), f"orderItems[{index}].proceeds.breakdowns")
    tax_split = _detailed(proceeds.get("breakdowns"), "TAX")
    promotions = (item.get("promotion") or {}).get("breakdowns") or []
    return LineMoney(
        order_item_id=str(item.get("orderItemId")),
        sku=product.get("sellerSku"),
        asin=product.get("asin"),
        title=product.get("title"),
        quantity=int(item.get("quantityOrdered") or 0),
        unit_price=_money((product.get("price") or {}).get("unitPrice"),
                          f"orderItems[{index}].product.price.unitPrice"),
        item=breakdown.get("ITEM"),
        shipping=breakdown.get("SHIPPING"),
        discount=breakdown.get("DISCOUNT"),
        tax=breakdown.get("TAX"),
        item_tax=tax_split.get("ITEM"),
        shipping_tax=tax_split.get("SHIPPING"),
        total=_money(proceeds.get("proceedsTotal"), f"orderItems[{index}].proceeds.proceedsTotal"),
        promotion_ids=tuple(p["promotionId"] for p in promotions if p.get("promotionId")),
    )


def order_details(order: Mapping[str, Any]) -> OrderDetails:
    """The money side of an Amazon order, exact to the cent, as Amazon computed it."""
    order_id = order.get("orderId")
    if not order_id:
        raise InvalidOrder("Amazon order has no orderId")
    fulfillment = order.get("fulfillment") or {}
    try:
        status = to_status(fulfillment.get("fulfillmentStatus"))
    except UnknownStatus as exc:
        raise InvalidOrder(f"Amazon order {order_id}: {exc}") from None
    as_of = _time(order.get("lastUpdatedTime"), "lastUpdatedTime") or _time(order.get("createdTime"), "createdTime")
    if as_of is None:
        raise InvalidOrder(f"Amazon order {order_id}: lastUpdatedTime is missing")
    proceeds = order.get("proceeds") or {}
    grand_total = _money(proceeds.get("grandTotal"), "proceeds.grandTotal")
    lines = tuple(_line(item, i) for i, item in enumerate(order.get("orderItems") or []))
    currency = grand_total.currency if grand_total else next(
        (line.unit_price.currency for line in lines if line.unit_price is not None), None)
    packages = tuple(
        Package(
            package_reference_id=str(p.get("packageReferenceId")),
            carrier=p.get("carrier"),
            tracking_number=p.get("trackingNumber"),
            ship_time=_time(p.get("shipTime"), "packages.shipTime"),
            status=(p.get("packageStatus") or {}).get("status"),
        )
        for p in order.get("packages") or []
    )
    channel = order.get("salesChannel") or {}
    return OrderDetails(
        as_of=as_of,
        status=status,
        currency=currency,
        grand_total=grand_total,
        breakdown=_breakdowns(proceeds.get("breakdowns"), "proceeds.breakdowns"),
        lines=lines,
        packages=packages,
        programs=tuple(order.get("programs") or ()),
        marketplace_id=channel.get("marketplaceId"),
        fulfilled_by=fulfillment.get("fulfilledBy"),
        created_time=_time(order.get("createdTime"), "createdTime"),
    )


def order_change(seller_id: str, order: Mapping[str, Any]) -> OrderChange:
    """Amazon's current view of the order as a change, stamped with its lastUpdatedTime."""
    details = order_details(order)
    fulfillment = order.get("fulfillment") or {}
    ship = fulfillment.get("shipByWindow") or {}
    deliver = fulfillment.get("deliverByWindow") or {}
    programs = order.get("programs") or []
    channel = {"MERCHANT": "MFN", "AMAZON": "AFN"}.get(fulfillment.get("fulfilledBy") or "")
    return OrderChange(
        seller_id=seller_id,
        order_id=str(order["orderId"]),
        marketplace_id=details.marketplace_id,
        status=details.status,
        changed_at=details.as_of,
        notification_id=f"getOrder@{iso(details.as_of)}",
        fulfillment_channel=channel,
        # getOrder has no order type; ORDER_CHANGE says StandardOrder unless it is a pre-order.
        order_type="Preorder" if "PREORDER" in programs else "StandardOrder",
        is_business="AMAZON_BUSINESS" in programs,
        is_prime="PRIME" in programs,
        purchase_date=details.created_time,
        ship_by=(_time(ship.get("earliestDateTime"), "shipByWindow"),
                 _time(ship.get("latestDateTime"), "shipByWindow")),
        deliver_by=(_time(deliver.get("earliestDateTime"), "deliverByWindow"),
                    _time(deliver.get("latestDateTime"), "deliverByWindow")),
        lines=tuple(
            OrderLine(
                order_item_id=str(item.get("orderItemId")),
                sku=(item.get("product") or {}).get("sellerSku"),
                quantity=int(item.get("quantityOrdered") or 0),
                quantity_shipped=int(((item.get("fulfillment") or {}).get("quantityFulfilled")) or 0),
            )
            for item in order.get("orderItems") or []
        ),
        source="getOrder",
    )


def personal_data(order: Mapping[str, Any]) -> dict[str, Any]:
    """Only what invoices and shipping need: buyer identity and the delivery address."""
    buyer = order.get("buyer") or {}
    address = (order.get("recipient") or {}).get("deliveryAddress") or {}
    keep_buyer = ("buyerName", "buyerEmail", "buyerCompanyName", "buyerPurchaseOrderNumber")
    keep_address = ("name", "companyName", "addressLine1", "addressLine2", "addressLine3", "city",
                    "districtOrCounty", "stateOrRegion", "municipality", "postalCode", "countryCode", "phone",
                    "addressType")
    tax = order.get("tax") or {}
    return {
        "buyer": {k: buyer[k] for k in keep_buyer if buyer.get(k)},
        "delivery_address": {k: address[k] for k in keep_address if address.get(k)},
        "tax_registrations": tax.get("taxRegistrations") or [],
    }
