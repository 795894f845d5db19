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

from chalicelib.core import fields
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

    @property
    def label(self) -> str:
        """How a reason names the notification: its type and id, each cut to a short quote."""
        return f"{self.notification_type[:fields.QUOTE]} {self.notification_id[:fields.QUOTE]}"


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
    return fields.moment(value, field, error=InvalidNotification, required=required)


def _seller_id(payload: Mapping[str, Any]) -> str | None:
    """The seller id sits in the payload or one object below it, depending on the type."""
    found = get(payload, "SellerId") or get(payload, "MerchantId")
    if found is None:
        for value in payload.values():
            if isinstance(value, Mapping):
                found = get(value, "SellerId") or get(value, "MerchantId")
                if found is not None:
                    break
    return fields.text(found, "SellerId", error=InvalidNotification, pattern=fields.SELLER_ID)


def parse_notification(body: str | bytes | Mapping[str, Any]) -> Notification:
    """An SQS message body (or an already-decoded object) → `Notification`."""
    if isinstance(body, (str, bytes)):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InvalidNotification("message body is not JSON") from None
        except RecursionError:
            raise InvalidNotification("message body is JSON nested too deeply") from None
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
    if not notification_type:
        raise InvalidNotification("not an SP-API notification: NotificationType is missing")
    notification_type = fields.required_text(notification_type, "NotificationType", error=InvalidNotification,
                                             limit=100)
    metadata = get(envelope, "NotificationMetadata") or {}
    if not isinstance(metadata, Mapping):
        raise InvalidNotification("NotificationMetadata must be an object")
    notification_id = get(metadata, "NotificationId") or (data.get("id") if via_eventbridge else None)
    if not notification_id:
        raise InvalidNotification(f"{notification_type[:fields.QUOTE]}: NotificationMetadata.NotificationId is missing")
    notification_id = fields.required_text(notification_id, "NotificationMetadata.NotificationId",
                                           error=InvalidNotification, pattern=fields.TOKEN_LIKE)
    payload = get(envelope, "Payload")
    if not isinstance(payload, Mapping):
        raise InvalidNotification(f"{notification_type[:fields.QUOTE]} {notification_id[:fields.QUOTE]}: "
                                  "Payload is missing or not an object")

    return Notification(
        notification_id=notification_id,
        notification_type=notification_type,
        event_time=parse_time(get(envelope, "EventTime"), "EventTime"),
        publish_time=parse_time(get(metadata, "PublishTime"), "NotificationMetadata.PublishTime"),
        payload=payload,
        seller_id=_seller_id(payload),
        application_id=fields.text(get(metadata, "ApplicationId"), "NotificationMetadata.ApplicationId",
                                   error=InvalidNotification, pattern=fields.TOKEN_LIKE),
        subscription_id=fields.text(get(metadata, "SubscriptionId"), "NotificationMetadata.SubscriptionId",
                                    error=InvalidNotification, pattern=fields.TOKEN_LIKE),
        notification_version=fields.text(get(envelope, "NotificationVersion"), "NotificationVersion",
                                         error=InvalidNotification, limit=40),
        payload_version=fields.text(get(envelope, "PayloadVersion"), "PayloadVersion",
                                    error=InvalidNotification, limit=40),
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
