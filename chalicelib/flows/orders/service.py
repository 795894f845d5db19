"""Orders: record what ORDER_CHANGE says, fetch the money from getOrder, poll as a backstop."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.envelope import Notification
from chalicelib.core.errors import InvalidNotification, PermanentError, RetryLater
from chalicelib.core.fields import quote
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue
from chalicelib.core.times import iso, utc
from chalicelib.flows.orders import parsing
from chalicelib.flows.orders.rules import (
    BUYER_DATA_DAYS,
    Order,
    OrderChange,
    OrderDetails,
    OrderStatus,
    TimelineEntry,
    buyer_data_expiry,
    needs_details,
)

FETCH_ORDER = "fetch_order"
SHIPPED_STATUSES = (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED)
POLL_ORDERS = "poll_orders"

# Why a details fetch was queued. BEHIND_AMAZON (the backstop saw Amazon ahead of us) always
# calls getOrder; the others skip the call when the details are already fresh.
ORDER_CHANGED = "order changed"
DETAILS_MISSING = "details still missing"
BEHIND_AMAZON = "behind Amazon"


# --- ports ---------------------------------------------------------------------------------

class Applied(Protocol):
    @property
    def order(self) -> Order: ...
    @property
    def created(self) -> bool: ...
    @property
    def details_status(self) -> OrderStatus | None: ...


class OrderRepository(Protocol):
    def apply_change(self, change: OrderChange, now: datetime) -> Applied | None: ...
    def get(self, order_id: str, *,
            consistent: bool = False) -> tuple[Order, OrderStatus | None, frozenset[str]] | None: ...
    def add_to_timeline(self, order_id: str, entry: TimelineEntry) -> bool: ...
    def save_details(self, order_id: str, details: OrderDetails) -> bool: ...
    def needs_attention(self, order_id: str, reason: str, at: datetime) -> bool: ...


class BuyerDataStore(Protocol):
    def save(self, seller_id: str, order_id: str, personal: dict[str, Any], as_of: datetime,
             expires_at: datetime, delivered_at: datetime | None = None, now: datetime | None = None) -> None: ...
    def shorten(self, order_id: str, expires_at: datetime, delivered_at: datetime,
                now: datetime | None = None) -> bool: ...


class AmazonOrders(Protocol):
    def get_order(self, seller_id: str, marketplace_id: str | None, order_id: str,
                  included_data: Any) -> dict[str, Any]: ...
    def search_orders(self, seller_id: str, marketplace_id: str, last_updated_after: datetime,
                      next_token: str | None = None) -> tuple[list[dict[str, Any]], str | None, str | None]: ...


class PollState(Protocol):
    def watermark(self, name: str) -> datetime | None: ...
    def set_watermark(self, name: str, value: datetime) -> None: ...
    def sellers(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class IntakePorts:
    orders: OrderRepository
    tasks: TaskQueue
    buyer_data: BuyerDataStore | None = None  # only to bring an expiry forward (never read here)


@dataclass(frozen=True)
class TaskPorts:
    orders: OrderRepository
    tasks: TaskQueue
    slots: Slots
    amazon: AmazonOrders
    buyer_data: BuyerDataStore
    poll_state: PollState
    poll_overlap: timedelta = timedelta(minutes=5)


def fetch_task(seller_id: str, order_id: str, marketplace_id: str | None, reason: str) -> Task:
    return Task(FETCH_ORDER, seller_id, order_id, {"marketplace_id": marketplace_id, "reason": reason})


def poll_task(seller_id: str, marketplace_id: str, since: datetime) -> Task:
    return Task(POLL_ORDERS, seller_id, marketplace_id, {"marketplace_id": marketplace_id, "since": iso(since)})


def watermark_name(seller_id: str, marketplace_id: str) -> str:
    return f"{seller_id}#{marketplace_id}"


def _behind(stored: Order | None, change: OrderChange | None) -> bool:
    """Amazon holds a newer status than we do (or we cannot tell)."""
    return stored is None or change is None or (stored.status != change.status and stored.change_key < change.key)


# --- intake --------------------------------------------------------------------------------

def record_order_change(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """Create or update the order; queue a details fetch when the order is new or moved on."""
    change = parsing.parse_order_change(notification)
    orders, tasks = ports.orders, ports.tasks
    applied = orders.apply_change(change, now)
    if change.delivered_at is not None and ports.buyer_data is not None:
        ports.buyer_data.shorten(change.order_id, buyer_data_expiry(change.delivered_at, None, None, now),
                                 change.delivered_at, now)
    if applied is not None:
        if needs_details(applied.order.status, applied.details_status):
            tasks.enqueue(fetch_task(change.seller_id, change.order_id, change.marketplace_id, ORDER_CHANGED))
        outcome = Outcome.CREATED if applied.created else Outcome.UPDATED
        return Result(outcome, marketplace_id=change.marketplace_id)

    # A repeat, or a change older than the one we hold: the state stays as it is.
    found = orders.get(change.order_id, consistent=True)
    if found is None:
        raise RetryLater(f"order {change.order_id} was not written and cannot be read back", delay_seconds=1)
    order, details_status, seen = found
    if order.seller_id != change.seller_id:
        raise InvalidNotification(f"{notification.label}: order {quote(change.order_id)} belongs to another "
                                  f"seller than {quote(change.seller_id)}; it was left as it is")
    outcome = Outcome.DUPLICATE
    if change.notification_id not in seen:
        entry = TimelineEntry(change.status, utc(change.changed_at), change.notification_id, change.source)
        outcome = Outcome.STALE if orders.add_to_timeline(change.order_id, entry) else Outcome.DUPLICATE
    if needs_details(order.status, details_status):
        # Heals a fetch that was lost when an earlier attempt of this message failed mid-way.
        tasks.enqueue(fetch_task(order.seller_id, order.order_id, order.marketplace_id, DETAILS_MISSING))
    return Result(outcome, marketplace_id=change.marketplace_id)


# --- tasks ---------------------------------------------------------------------------------

def fetch_order_details(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """getOrder → status (healing lost notifications), money, and encrypted buyer data."""
    seller_id, order_id = task.seller_id, task.key
    found = ports.orders.get(order_id)
    if found is not None:
        order, details_status, _ = found
        if order.seller_id != seller_id:
            raise PermanentError(f"order {quote(order_id)} belongs to another seller than {quote(seller_id)}")
        if not needs_details(order.status, details_status) and task.param("reason") != BEHIND_AMAZON:
            return Result(Outcome.SKIPPED)
    ports.slots.take(task, "getOrder", now.timestamp())
    raw = ports.amazon.get_order(seller_id, task.param("marketplace_id"), order_id, parsing.INCLUDED_DATA)
    change = parsing.order_change(seller_id, raw)
    if change.order_id != order_id:
        raise PermanentError(f"getOrder {quote(order_id)} answered with another order, {quote(change.order_id)}")
    try:
        details: OrderDetails | None = parsing.order_details(raw)
        problem = None
    except parsing.MoneyProblem as refused:
        # Kept, with its status and buyer data, but without money: a person looks at why.
        details, problem = None, refused.reason
    # Amazon's view heals a lost notification; an unchanged status adds no timeline entry.
    applied = ports.orders.apply_change(change, now) if _behind(found[0] if found else None, change) else None
    if applied is not None:
        order = applied.order
    else:
        again = ports.orders.get(order_id)
        if again is None:
            raise RetryLater(f"order {order_id} cannot be read back", delay_seconds=1)
        order = again[0]
    if details is not None:
        ports.orders.save_details(order_id, details)
    else:
        ports.orders.needs_attention(order_id, str(problem), now)
    expires_at = buyer_data_expiry(change.delivered_at, order.deliver_by[1], order.purchase_date, now)
    ports.buyer_data.save(seller_id, order_id, parsing.personal_data(raw), change.changed_at, expires_at,
                          change.delivered_at, now)
    if details is not None and order.status in SHIPPED_STATUSES:
        # Shipped (from Amazon's warehouses, or packages confirmed in Seller Central): its invoices
        # are due; the invoices flow issues each once.
        from chalicelib.flows.invoices.triggers import issue_task

        ports.tasks.enqueue(issue_task(seller_id, order_id))
    if applied is not None and change.fulfillment_channel == "MFN":
        # Amazon's order told us what no notification did (the backstop, a lost ORDER_CHANGE):
        # the merchant stock it reserves or releases follows.
        from chalicelib.flows.stock.triggers import order_task

        ports.tasks.enqueue(order_task(seller_id, order_id))
    if problem is not None:
        return Result(Outcome.ATTENTION, {"order_id": order_id, "attention": problem})
    # An order no notification brought (the backstop found it) is created by its details.
    return Result(Outcome.CREATED if found is None else Outcome.DONE, {"order_id": order_id})


BUYER_DATA_PURGE = "buyer-data-purge"


class BuyerDataPurge(Protocol):
    def purge(self, now: datetime, since_day: Any) -> int: ...


def purge_buyer_data(store: BuyerDataPurge, state: PollState, now: datetime) -> dict[str, int]:
    """Hourly: delete the buyer data whose 30 days are over (DynamoDB's TTL, which may run days
    late, is the second net). Each run looks from the day of the previous one."""
    last = state.watermark(BUYER_DATA_PURGE)
    since = (last or now - timedelta(days=BUYER_DATA_DAYS + 1)).date()
    deleted = store.purge(now, since)
    state.set_watermark(BUYER_DATA_PURGE, now)
    return {"deleted": deleted}


def schedule_polls(state: PollState, tasks: TaskQueue, now: datetime,
                   first_window: timedelta = timedelta(days=1)) -> int:
    """The backstop: one searchOrders task per seller and marketplace, from its watermark."""
    count = 0
    for seller in state.sellers():
        for marketplace_id in seller.get("marketplace_ids") or []:
            since = state.watermark(watermark_name(seller["seller_id"], marketplace_id)) or (now - first_window)
            tasks.enqueue(poll_task(seller["seller_id"], marketplace_id, since))
            count += 1
    return count


def poll_orders(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """One page of searchOrders: queue a fetch for every order we miss or hold behind Amazon."""
    seller_id, marketplace_id = task.seller_id, task.param("marketplace_id")
    ports.slots.take(task, "searchOrders", now.timestamp())
    since = datetime.fromisoformat(task.param("since"))
    found_orders, next_token, last_updated_before = ports.amazon.search_orders(
        seller_id, marketplace_id, since, task.param("next_token"))
    behind = 0
    for raw in found_orders:
        order_id = str(raw.get("orderId") or "")
        if not order_id:
            continue
        try:
            change: OrderChange | None = parsing.order_change(seller_id, raw)
        except PermanentError:
            change = None  # let getOrder fetch it and report what is wrong with it, if anything
        stored = ports.orders.get(order_id)
        if _behind(stored[0] if stored else None, change):
            ports.tasks.enqueue(fetch_task(seller_id, order_id, marketplace_id, BEHIND_AMAZON))
            behind += 1
    if next_token:
        ports.tasks.enqueue(task.with_params(next_token=next_token))
    else:
        upper = datetime.fromisoformat(last_updated_before) if last_updated_before else now
        ports.poll_state.set_watermark(watermark_name(seller_id, marketplace_id), upper - ports.poll_overlap)
    return Result(Outcome.DONE, {"polled": len(found_orders), "behind": behind})
