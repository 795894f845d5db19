"""Intake: one SQS message → its consumers → one outcome. Cheap and never calls Amazon; anything
slow is a task. Which flows consume which notification is the registry's business."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.core.envelope import Notification, parse_notification
from chalicelib.core.errors import InvalidNotification
from chalicelib.core.flow import Consumer
from chalicelib.core.tasks import Outcome, Result, strongest


@dataclass(frozen=True)
class Handled:
    notification: Notification
    outcome: Outcome
    results: tuple[Result, ...] = ()

    @property
    def marketplace_ids(self) -> set[str]:
        """The marketplaces the consumers found in the notification (the backstop polls them)."""
        return {r.marketplace_id for r in self.results if r.marketplace_id}


def handle_message(body: str | bytes, consumers_of: Callable[[Notification], Sequence[Consumer]],
                   now: datetime, admit: Callable[[Notification], None] = lambda notification: None) -> Handled:
    """Parse, admit (core/admission.py), then hand the notification to every flow that consumes
    it. Raises `InvalidNotification` for what can never succeed (`NotAdmitted` for what is not
    ours); a type no flow consumes is acknowledged."""
    notification = parse_notification(body)
    try:
        admit(notification)
    except InvalidNotification as exc:
        exc.notification = (notification.notification_type, notification.notification_id)
        raise
    consumers = consumers_of(notification)
    if not consumers:
        return Handled(notification, Outcome.UNHANDLED)
    results = []
    try:
        for consumer in consumers:
            results.append(consumer.handle(notification, consumer.ports(), now))
    except InvalidNotification as exc:
        exc.notification = (notification.notification_type, notification.notification_id)
        raise
    return Handled(notification, strongest([r.outcome for r in results]), tuple(results))
