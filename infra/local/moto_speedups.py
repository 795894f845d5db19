"""Speed-ups for moto's SQS, for the local stack's own process (never used in AWS).

moto 5.2's SQS is O(queue depth) per message, with a slow clock read per queued message:

- `receive_message` calls `is_message_valid_based_on_retention_period` for every message it
  returns, which builds the queue's whole attribute dict to read MessageRetentionPeriod; that
  dict counts visible, in-flight and delayed messages, calling `unix_time_millis()` once or
  twice per queued message, per attribute looked up.
- `send_message` reads `queue.attributes.get("ContentBasedDeduplication")`: the same dict,
  once per message sent.

With ~2,000 messages in a queue a 10-message receive takes over a second, so the worker, not
the code under test, sets the pace (the demo ran at ~10 notifications/s; ~30/s with these).
These patches keep moto's semantics (the same comparisons against the same clock) but read the
clock once per call and the retention period directly.
"""
from __future__ import annotations

_applied = False


def apply() -> bool:
    """Patch moto's SQS classes in this process. Returns False if moto's shape is unexpected."""
    global _applied
    if _applied:
        return True
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs import models

    queue_cls, backend_cls = models.Queue, models.SQSBackend
    needed = (hasattr(queue_cls, "messages") and hasattr(queue_cls, "approximate_number_of_messages_delayed")
              and hasattr(backend_cls, "is_message_valid_based_on_retention_period"))
    if not needed:
        return False

    def messages(self):
        now = unix_time_millis()
        return [m for m in self._messages if now > m.visible_at and not now < m.delayed_until]

    def delayed(self):
        now = unix_time_millis()
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self):
        now = unix_time_millis()
        return sum(1 for m in self._messages if not now > m.visible_at)

    def visible_count(self):
        return len(messages(self))

    def retention_ok(self, queue_name, message):
        queue = self.get_queue(queue_name)
        retention = int(queue.message_retention_period)
        return retention + message.sent_timestamp / 1000 > unix_time()

    # setattr: mypy refuses to assign to a method ("Cannot assign to a method"), which patching is.
    setattr(queue_cls, "messages", property(messages))  # noqa: B010
    setattr(queue_cls, "approximate_number_of_messages_delayed", property(delayed))  # noqa: B010
    setattr(queue_cls, "approximate_number_of_messages_not_visible", property(not_visible))  # noqa: B010
    setattr(queue_cls, "approximate_number_of_messages", property(visible_count))  # noqa: B010
    setattr(backend_cls, "is_message_valid_based_on_retention_period", retention_ok)  # noqa: B010
    _applied = True
    return True
