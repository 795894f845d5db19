"""Orders: record what ORDER_CHANGE says, fetch the money from getOrder, poll as a backstop."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import amazon_orders
from chalicelib.domain.orders import TimelineEntry, buyer_data_expiry, iso, needs_details, utc
from chalicelib.errors import PermanentError, RetryLater
from chalicelib.notifications import Notification, parse_order_change
from chalicelib.services.ports import AmazonOrders, BuyerDataStore, OrderRepository, PollState, RateLimiter, TaskQueue

FETCH_ORDER = "fetch_order"
POLL_ORDERS = "poll_orders"


def fetch_task(seller_id: str, order_id: str, marketplace_id: str | None, reason: str) -> dict[str, Any]:
    return {"task": FETCH_ORDER, "seller_id": seller_id, "order_id": order_id,
            "marketplace_id": marketplace_id, "reason": reason}


def record_order_change(notification: Notification, orders: OrderRepository, tasks: TaskQueue, now: datetime) -> str:
    """Create or update the order; queue a details fetch when the order is new or moved on."""
    change = parse_order_change(notification)
    applied = orders.apply_change(change, now)
    if applied is not None:
        if needs_details(applied.order.status, applied.details_status):
            tasks.enqueue(fetch_task(change.seller_id, change.order_id, change.marketplace_id, "order changed"))
        return "created" if applied.created else "updated"

    # A repeat, or a change older than the one we hold: the state stays as it is.
    found = orders.get(change.order_id, consistent=True)
    if found is None:
        raise RetryLater(f"order {change.order_id} was not written and cannot be read back", delay_seconds=1)
    order, details_status, seen = found
    outcome = "duplicate"
    if change.notification_id not in seen:
        entry = TimelineEntry(change.status, utc(change.changed_at), change.notification_id, change.source)
        outcome = "stale" if orders.add_to_timeline(change.order_id, entry) else "duplicate"
    if needs_details(order.status, details_status):
        # Heals a fetch that was lost when an earlier attempt of this message failed mid-way.
        tasks.enqueue(fetch_task(order.seller_id, order.order_id, order.marketplace_id, "details still missing"))
    return outcome


@dataclass(frozen=True)
class TaskPorts:
    orders: OrderRepository
    tasks: TaskQueue
    limiter: RateLimiter
    amazon: AmazonOrders
    buyer_data: BuyerDataStore
    poll_state: PollState


def _go_or_wait(task: dict[str, Any], ports: TaskPorts, operation: str, now: float) -> None:
    """Take a slot from the shared limiter, or raise RetryLater until the slot booked for us.

    A slot is booked once; the task comes back when it is due and calls without booking again."""
    slot = task.get("slot")
    if slot is not None and task.get("slot_operation") == operation:
        if now < slot:
            raise RetryLater(f"waiting for the {operation} slot booked earlier", delay_seconds=slot - now)
        task.pop("slot", None)
        task.pop("slot_operation", None)
        # Late calls whose slots have passed bunch together; Amazon's bucket absorbs that only
        # up to its burst, so a task much later than its slot (a backlogged poller) books again.
        if now - slot <= ports.limiter.lateness_allowed(operation):
            return
    wait = ports.limiter.reserve(task["seller_id"], operation)
    if wait > 0:
        task["slot"], task["slot_operation"] = now + wait, operation
        raise RetryLater(f"{operation} rate limit: next slot in {wait:.1f}s", delay_seconds=wait)


def fetch_order_details(task: dict[str, Any], ports: TaskPorts, now: datetime) -> str:
    """getOrder → status (healing lost notifications), money, and encrypted buyer data."""
    seller_id, order_id = task["seller_id"], task["order_id"]
    found = ports.orders.get(order_id)
    if found is not None:
        order, details_status, _ = found
        if not needs_details(order.status, details_status) and task.get("reason") != "behind Amazon":
            return "fresh"
    _go_or_wait(task, ports, "getOrder", now.timestamp())
    raw = ports.amazon.get_order(seller_id, task.get("marketplace_id"), order_id, amazon_orders.INCLUDED_DATA)
    change = amazon_orders.order_change(seller_id, raw)
    details = amazon_orders.order_details(raw)
    # Amazon's view heals a lost notification; an unchanged status adds no timeline entry.
    applied = None
    if found is None or (found[0].status != change.status and found[0].change_key < change.key):
        applied = ports.orders.apply_change(change, now)
    order = applied.order if applied else ports.orders.get(order_id)[0]
    ports.orders.save_details(order_id, details)
    expires_at = buyer_data_expiry(order.deliver_by[1], order.purchase_date, now)
    ports.buyer_data.save(seller_id, order_id, amazon_orders.personal_data(raw), details.as_of, expires_at)
    return "fetched"


def schedule_polls(state: PollState, tasks: TaskQueue, now: datetime, first_window: timedelta = timedelta(days=1)) -> int:
    """The backstop: one searchOrders task per seller and marketplace, from its watermark."""
    count = 0
    for seller in state.sellers():
        for marketplace_id in seller.get("marketplace_ids") or []:
            since = state.watermark(seller["seller_id"], marketplace_id) or (now - first_window)
            tasks.enqueue({"task": POLL_ORDERS, "seller_id": seller["seller_id"], "marketplace_id": marketplace_id,
                           "since": iso(since)})
            count += 1
    return count


def poll_orders(task: dict[str, Any], ports: TaskPorts, now: datetime, overlap: timedelta) -> str:
    """One page of searchOrders: queue a fetch for every order we miss or hold behind Amazon."""
    seller_id, marketplace_id = task["seller_id"], task["marketplace_id"]
    _go_or_wait(task, ports, "searchOrders", now.timestamp())
    since = datetime.fromisoformat(task["since"])
    found_orders, next_token, last_updated_before = ports.amazon.search_orders(
        seller_id, marketplace_id, since, task.get("next_token"))
    behind = 0
    for raw in found_orders:
        order_id = str(raw.get("orderId") or "")
        if not order_id:
            continue
        try:
            change = amazon_orders.order_change(seller_id, raw)
        except PermanentError:
            change = None  # let getOrder fetch it and report what is wrong with it, if anything
        stored = ports.orders.get(order_id)
        if stored is None or change is None or (
                stored[0].status != change.status and stored[0].change_key < change.key):
            ports.tasks.enqueue(fetch_task(seller_id, order_id, marketplace_id, "behind Amazon"))
            behind += 1
    if next_token:
        ports.tasks.enqueue({**{k: v for k, v in task.items() if k not in ("slot", "slot_operation")},
                             "next_token": next_token})
    else:
        upper = datetime.fromisoformat(last_updated_before) if last_updated_before else now
        ports.poll_state.set_watermark(seller_id, marketplace_id, upper - overlap)
    return f"polled {len(found_orders)}, {behind} behind"
