"""SP-API notification envelope → typed notification, for every type.

Amazon uses PascalCase keys for orders, inventory, fulfillment and transaction notifications
and camelCase for report, feed and item notifications; EventBridge wraps the listings ones in
`detail`. Parsing is lenient about casing and extra keys (some of Amazon's own schemas are
broken for strict validation) and strict about what we rely on: a missing or malformed field we
need raises `InvalidNotification` with a reason a person can act on.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.core.errors import InvalidNotification


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


# Notification types that serve several flows, told apart by a field of their payload.
_SUBTYPE_FIELDS = {
    "REPORT_PROCESSING_FINISHED": ("reportProcessingFinishedNotification", "reportType"),
    "FEED_PROCESSING_FINISHED": ("feedProcessingFinishedNotification", "feedType"),
}


def subtype(notification: Notification) -> str | None:
    """The report type or feed type a processing-finished notification is about (the flow that
    asked for that report or sent that feed consumes it); None for other types."""
    where = _SUBTYPE_FIELDS.get(notification.notification_type)
    if where is None:
        return None
    body = get(notification.payload, where[0])
    value = get(body, where[1]) if isinstance(body, Mapping) else None
    return value if isinstance(value, str) and value else None
