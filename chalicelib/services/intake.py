"""Intake: one SQS message → one outcome. Cheap and never calls Amazon; anything slow is a task."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Callable

from chalicelib.errors import InvalidNotification
from chalicelib.notifications import ORDER_CHANGE, Notification, get, parse_notification
from chalicelib.services import orders
from chalicelib.services.ports import OrderRepository, TaskQueue


class Outcome(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"  # the same notification again: nothing changed
    STALE = "stale"  # older than what we hold: kept in the timeline, state unchanged
    UNHANDLED = "unhandled"  # a type with no handler yet: acknowledged and counted


@dataclass(frozen=True)
class IntakePorts:
    orders: OrderRepository
    tasks: TaskQueue


Handler = Callable[[Notification, IntakePorts, datetime], Outcome]

# Notification type → service function. A type missing here is acknowledged, never failed.
HANDLERS: dict[str, Handler] = {
    ORDER_CHANGE: lambda n, ports, now: Outcome(orders.record_order_change(n, ports.orders, ports.tasks, now)),
}


@dataclass(frozen=True)
class Handled:
    outcome: Outcome
    notification: Notification

    @property
    def marketplace_id(self) -> str | None:
        """The marketplace the notification concerns, where its payload says (orders do)."""
        body = get(self.notification.payload, "OrderChangeNotification") or self.notification.payload
        summary = get(body, "Summary") if isinstance(body, dict) else None
        found = get(summary, "MarketplaceId") if isinstance(summary, dict) else get(body, "MarketplaceId")
        return found if isinstance(found, str) and found else None


def handle_message(body: str, ports: IntakePorts, now: datetime) -> Handled:
    """Parse, then dispatch by type. Raises `InvalidNotification` for what can never succeed."""
    notification = parse_notification(body)
    handler = HANDLERS.get(notification.notification_type)
    if handler is None:
        return Handled(Outcome.UNHANDLED, notification)
    try:
        return Handled(handler(notification, ports, now), notification)
    except InvalidNotification as exc:
        exc.notification = (notification.notification_type, notification.notification_id)
        raise
