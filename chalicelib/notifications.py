"""SP-API notification envelope → typed notification.

Amazon uses PascalCase keys for orders, inventory, fulfillment and transaction notifications
and camelCase for report, feed and item notifications; EventBridge wraps the listings ones in
`detail`. Parsing is lenient about casing and extra keys (some of Amazon's own schemas are
broken for strict validation) and strict about what we rely on: a missing or malformed field we
need raises `InvalidNotification` with a reason a person can act on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from chalicelib.domain.orders import OrderChange, OrderLine, UnknownStatus, to_status
from chalicelib.errors import InvalidNotification

ORDER_CHANGE = "ORDER_CHANGE"


@dataclass(frozen=True)
class Notification:
    notification_id: str
    notification_type: str
    event_time: datetime | None
    publish_time: datetime | None
    payload: Mapping[str, Any]
    seller_id: str | None
    application_id: str | None = None
    subscription_id: str | None = None
    notification_version: str | None = None
    payload_version: str | None = None
    via_eventbridge: bool = False


def get(mapping: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """Read `name` whatever its casing: `NotificationType`, `notificationType`..."""
    if name in mapping:
        return mapping[name]
    camel = name[:1].lower() + name[1:]
    if camel in mapping:
        return mapping[camel]
    pascal = name[:1].upper() + name[1:]
    if pascal in mapping:
        return mapping[pascal]
    folded = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == folded:
            return value
    return default


def parse_time(value: Any, field: str, *, required: bool = False) -> datetime | None:
    if value is None or value == "":
        if required:
            raise InvalidNotification(f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise InvalidNotification(f"{field} must be an ISO 8601 date-time string, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidNotification(f"{field} {value[:40]!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidNotification(f"{field} {value[:40]!r} has no time zone")
    return moment


def _seller_id(payload: Mapping[str, Any]) -> str | None:
    """The seller id sits in the payload or one object below it, depending on the type."""
    found = get(payload, "SellerId") or get(payload, "MerchantId")
    if isinstance(found, str) and found:
        return found
    for value in payload.values():
        if isinstance(value, Mapping):
            found = get(value, "SellerId") or get(value, "MerchantId")
            if isinstance(found, str) and found:
                return found
    return None


def parse_notification(body: str | bytes | Mapping[str, Any]) -> Notification:
    """An SQS message body (or an already-decoded object) → `Notification`."""
    if isinstance(body, (str, bytes)):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidNotification("message body is not JSON") from None
    else:
        data = body
    if not isinstance(data, Mapping):
        raise InvalidNotification(f"message body is a JSON {type(data).__name__}, not an object")

    via_eventbridge = False
    if "detail" in data and "detail-type" in data:
        via_eventbridge = True
        detail = data["detail"]
        if not isinstance(detail, Mapping):
            raise InvalidNotification("EventBridge event has no object in 'detail'")
        envelope: Mapping[str, Any] = detail
    else:
        envelope = data

    notification_type = get(envelope, "NotificationType") or (data.get("detail-type") if via_eventbridge else None)
    if not isinstance(notification_type, str) or not notification_type:
        raise InvalidNotification("not an SP-API notification: NotificationType is missing")
    metadata = get(envelope, "NotificationMetadata") or {}
    if not isinstance(metadata, Mapping):
        raise InvalidNotification("NotificationMetadata must be an object")
    notification_id = get(metadata, "NotificationId") or (data.get("id") if via_eventbridge else None)
    if not isinstance(notification_id, str) or not notification_id:
        raise InvalidNotification(f"{notification_type}: NotificationMetadata.NotificationId is missing")
    payload = get(envelope, "Payload")
    if not isinstance(payload, Mapping):
        raise InvalidNotification(f"{notification_type} {notification_id}: Payload is missing or not an object")

    return Notification(
        notification_id=notification_id,
        notification_type=notification_type,
        event_time=parse_time(get(envelope, "EventTime"), "EventTime"),
        publish_time=parse_time(get(metadata, "PublishTime"), "NotificationMetadata.PublishTime"),
        payload=payload,
        seller_id=_seller_id(payload),
        application_id=get(metadata, "ApplicationId"),
        subscription_id=get(metadata, "SubscriptionId"),
        notification_version=get(envelope, "NotificationVersion"),
        payload_version=get(envelope, "PayloadVersion"),
        via_eventbridge=via_eventbridge,
    )


def _int(value: Any, field: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidNotification(f"{field} must be an integer, got {value!r}"[:200])
    if value < 0:
        raise InvalidNotification(f"{field} must not be negative, got {value}")
    return value


def parse_order_change(notification: Notification) -> OrderChange:
    """ORDER_CHANGE payload → `OrderChange` (no prices, taxes or buyer: Amazon sends none)."""
    body = get(notification.payload, "OrderChangeNotification")
    if not isinstance(body, Mapping):
        raise InvalidNotification(f"ORDER_CHANGE {notification.notification_id}: Payload.OrderChangeNotification is missing")
    where = f"ORDER_CHANGE {notification.notification_id}"
    order_id = get(body, "AmazonOrderId")
    if not isinstance(order_id, str) or not order_id.strip():
        raise InvalidNotification(f"{where}: AmazonOrderId is missing")
    seller_id = get(body, "SellerId") or notification.seller_id
    if not isinstance(seller_id, str) or not seller_id:
        raise InvalidNotification(f"{where}: SellerId is missing")
    summary = get(body, "Summary") or {}
    if not isinstance(summary, Mapping):
        raise InvalidNotification(f"{where}: Summary must be an object")
    try:
        status = to_status(get(summary, "OrderStatus"))
    except UnknownStatus as exc:
        raise InvalidNotification(f"{where}: {exc}") from None
    trigger = get(body, "OrderChangeTrigger") or {}
    if not isinstance(trigger, Mapping):
        raise InvalidNotification(f"{where}: OrderChangeTrigger must be an object")
    # The change's own time orders changes; EventTime is when Amazon published the event.
    changed_at = parse_time(get(trigger, "TimeOfOrderChange"), "OrderChangeTrigger.TimeOfOrderChange") or notification.event_time
    if changed_at is None:
        raise InvalidNotification(f"{where}: neither TimeOfOrderChange nor EventTime is given")

    items = get(summary, "OrderItems") or []
    if not isinstance(items, list):
        raise InvalidNotification(f"{where}: Summary.OrderItems must be a list")
    lines = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidNotification(f"{where}: OrderItems[{index}] must be an object")
        item_id = get(item, "OrderItemId")
        if not isinstance(item_id, str) or not item_id:
            raise InvalidNotification(f"{where}: OrderItems[{index}].OrderItemId is missing")
        lines.append(OrderLine(
            order_item_id=item_id,
            sku=get(item, "SellerSKU"),
            quantity=_int(get(item, "Quantity"), f"OrderItems[{index}].Quantity"),
            quantity_shipped=_int(get(item, "QuantityShipped"), f"OrderItems[{index}].QuantityShipped"),
        ))

    programs = get(summary, "OrderPrograms") or []
    programs = programs if isinstance(programs, list) else []
    return OrderChange(
        seller_id=seller_id,
        order_id=order_id.strip(),
        marketplace_id=get(summary, "MarketplaceId"),
        status=status,
        changed_at=changed_at,
        notification_id=notification.notification_id,
        fulfillment_channel=get(summary, "FulfillmentType"),
        order_type=get(summary, "OrderType"),
        is_business="Business" in programs,
        is_prime="Prime" in programs,
        purchase_date=parse_time(get(summary, "PurchaseDate"), "Summary.PurchaseDate"),
        ship_by=(parse_time(get(summary, "EarliestShipDate"), "Summary.EarliestShipDate"),
                 parse_time(get(summary, "LatestShipDate"), "Summary.LatestShipDate")),
        deliver_by=(parse_time(get(summary, "EarliestDeliveryDate"), "Summary.EarliestDeliveryDate"),
                    parse_time(get(summary, "LatestDeliveryDate"), "Summary.LatestDeliveryDate")),
        lines=tuple(lines),
        change_type=get(body, "OrderChangeType"),
        change_reason=get(trigger, "ChangeReason"),
    )
