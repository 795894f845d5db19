"""Orders: record what ORDER_CHANGE says, fetch the money from getOrder, poll as a backstop."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.envelope import Notification
from chalicelib.core.errors import InvalidNotification, Parked, PermanentError, RetryLater, WaitForSlot
from chalicelib.core.fields import quote
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue
from chalicelib.core.times import iso, parse_iso, utc
from chalicelib.flows.orders import parsing
from chalicelib.flows.orders.rules import (
    BACKLOG_ALERT_SECONDS,
    BUYER_DATA_DAYS,
    SEARCH_FULFILLED_BY,
    SEARCH_STATUSES,
    SHIPPED_STATUSES,
    Applied,
    Backlog,
    Door,
    Order,
    OrderChange,
    OrderDetails,
    OrderStatus,
    Read,
    Refused,
    Stored,
    TimelineEntry,
    backlog_of,
    buyer_data_expiry,
    details_due,
    door,
    first_read_queued,
    keeps_searching,
    moves_stock,
    needs_details,
    opens_search,
    packages_known,
    read_again,
)

FETCH_ORDER = "fetch_order"
SEARCH_DETAILS = "search_details"
POLL_ORDERS = "poll_orders"

# Why a details fetch was queued. BEHIND_AMAZON (the backstop saw Amazon ahead of us) always
# calls getOrder; the others skip the call when the details are already fresh.
ORDER_CHANGED = "order changed"
DETAILS_MISSING = "details still missing"
BEHIND_AMAZON = "behind Amazon"


# --- ports ---------------------------------------------------------------------------------

class OrderRepository(Protocol):
    def apply_change(self, change: OrderChange, now: datetime) -> Applied | Refused: ...
    def get(self, order_id: str, *, consistent: bool = False) -> Stored | None: ...
    def stored_together(self, order_ids: list[str]) -> dict[str, Stored]: ...
    def add_to_timeline(self, order_id: str, entry: TimelineEntry) -> bool: ...
    def save_details(self, order_id: str, details: OrderDetails) -> Order | None: ...
    def mark_read(self, order_id: str, status: OrderStatus) -> bool: ...
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
                      next_token: str | None = None, included_data: Any = ("FULFILLMENT",),
                      statuses: Any = (), fulfilled_by: str | None = None,
                      ) -> tuple[list[dict[str, Any]], str | None, str | None]: ...


class OurShipments(Protocol):
    def confirmed_units(self, order_id: str) -> dict[str, int]: ...


class SearchState(Protocol):
    """The open searches of the search door, by `watermark_name` (core/state.py)."""

    def search(self, name: str) -> tuple[datetime, float] | None: ...
    def open_search(self, name: str, since: datetime, until: float, now_s: float) -> bool: ...
    def move_search(self, name: str, since: datetime, until: float) -> None: ...
    def close_search(self, name: str) -> None: ...


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
    searches: SearchState | None = None  # None: the getOrder door only
    shipments: OurShipments | None = None  # the packages confirmed through sellerops (no read needed for them)
    park_seconds: float = 300.0  # a task the search reads comes back to check after this
    search_lease_seconds: float = 900.0  # an open search whose chain is silent this long is over
    search_lookback: timedelta = timedelta(minutes=5)  # a search starts this long before the order that opened it
    # A window starts this long before the last one ended: only the clock's edge. Not the
    # backstop's five minutes, which would list again what the last window read (and made
    # every window longer than the one before at 50,000 orders a day); an order the edge missed
    # still has its task, which goes to getOrder once the search is past it.
    search_overlap: timedelta = timedelta(seconds=30)


def fetch_task(seller_id: str, order_id: str, marketplace_id: str | None, reason: str,
               changed_at: datetime | None = None) -> Task:
    """`changed_at`: when Amazon changed the order (the search door reads orders changed since
    it opened)."""
    params: dict[str, Any] = {"marketplace_id": marketplace_id, "reason": reason}
    if changed_at is not None:
        params["at"] = iso(changed_at)
    return Task(FETCH_ORDER, seller_id, order_id, params)


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
    if isinstance(applied, Applied):
        if needs_details(applied.order, applied.details_status) \
                and not first_read_queued(applied.order, applied.details_status, change.notification_id):
            tasks.enqueue(fetch_task(change.seller_id, change.order_id, change.marketplace_id, ORDER_CHANGED,
                                     change.changed_at))
        elif applied.details_status is not None and applied.order.status in SHIPPED_STATUSES:
            # Shipped from Amazon's warehouses: no read brings anything new, its invoice is due.
            _invoices_due(ports.tasks, change.seller_id, change.order_id)
        if moves_stock(applied.order.fulfillment_channel, applied.created, applied.order.status):
            _stock_moves(ports.tasks, change)
        outcome = Outcome.CREATED if applied.created else Outcome.UPDATED
        return Result(outcome, marketplace_id=change.marketplace_id)

    # A repeat, or a change older than the one we hold: the state stays as it is. The refusal
    # says what is stored (a read only when it could not).
    found = applied.stored or orders.get(change.order_id, consistent=True)
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
        # Another message wrote what is stored, and queued what follows from it (or, its batch
        # failed, queues it when it comes again): nothing of this one's to heal.
        return Result(outcome, marketplace_id=change.marketplace_id)
    # This very message wrote before: its batch may have failed after the write, losing its tasks.
    if needs_details(order, details_status):
        tasks.enqueue(fetch_task(order.seller_id, order.order_id, order.marketplace_id, DETAILS_MISSING))
    if order.fulfillment_channel == "MFN":
        _stock_moves(tasks, change)  # the same heal for its stock (merging what the order holds is idempotent)
    return Result(outcome, marketplace_id=change.marketplace_id)


# --- tasks ---------------------------------------------------------------------------------

def fetch_order_details(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """An order's details through its door (rules.door): getOrder, or parked while an open
    search reads it in a page; then its status (healing lost notifications), money, and
    encrypted buyer data."""
    seller_id, order_id = task.seller_id, task.key
    found = ports.orders.get(order_id)
    reason = task.param("reason")
    due: Read | None = None
    channel: str | None = None
    if found is not None:
        order, details_status, _ = found
        if order.seller_id != seller_id:
            raise PermanentError(f"order {quote(order_id)} belongs to another seller than {quote(seller_id)}")
        channel = order.fulfillment_channel
        due = details_due(order.status, details_status, channel)
        if due is None and reason != BEHIND_AMAZON:
            return Result(Outcome.SKIPPED)
        if (reason != BEHIND_AMAZON and ports.shipments is not None and due is Read.PACKAGES
                and packages_known(order.status, order.lines, ports.shipments.confirmed_units(order_id))):
            # Shipped in packages the warehouse confirmed through sellerops: we hold them already.
            if ports.orders.mark_read(order_id, order.status):
                _invoices_due(ports.tasks, seller_id, order_id)
            DETAILS_READ["ours"] += 1
            return Result(Outcome.SKIPPED, {"order_id": order_id, "packages": "confirmed through sellerops"})
    searching = reason != BEHIND_AMAZON and ports.searches is not None and task.param("marketplace_id")
    booked = task.slot is not None and task.slot.operation == "getOrder"
    changed_at = parse_iso(task.param("at"))
    search: datetime | None = None
    if searching and not booked:
        search = _open_search_of(ports, watermark_name(seller_id, task.param("marketplace_id")), now)
        if search is not None and door(changed_at, search, booked, channel, due) is Door.SEARCH:
            raise Parked(f"the open search reads the orders changed since {iso(search)}",
                         delay_seconds=ports.park_seconds)
    try:
        ports.slots.take(task, "getOrder", now.timestamp())
    except WaitForSlot as wait:
        if (searching and not booked and search is None
                and opens_search(ports.slots.queued("getOrder", wait.delay_seconds))):
            _open_search(ports, seller_id, task.param("marketplace_id"), changed_at or now, now)
        raise
    raw = ports.amazon.get_order(seller_id, task.param("marketplace_id"), order_id, parsing.INCLUDED_DATA)
    change = parsing.order_change(seller_id, raw)
    if change.order_id != order_id:
        raise PermanentError(f"getOrder {quote(order_id)} answered with another order, {quote(change.order_id)}")
    result = take_in(seller_id, raw, change, found, ports, now)
    DETAILS_READ[Door.GET_ORDER.value] += 1
    return result


def details_given_up(task: Task, ports: TaskPorts, reason: str, now: datetime) -> None:
    """A read of the order's details is given up (its message dead-lettered with `reason`): the
    order is marked for a person with the reason, which GET /orders/{id} shows and an invoice
    waits on, and the next change reads again (rules.first_read_queued: no read is queued any
    more). Saved details clear the mark."""
    found = ports.orders.get(task.key)
    if found is None or found[0].seller_id != task.seller_id or found[0].attention is not None:
        return
    ports.orders.needs_attention(task.key, f"its details could not be read from Amazon: {reason}"[:300], now)


# Details read per door in this process (the local stack's summary; metrics in Lambda).
DETAILS_READ: Counter[str] = Counter()


def take_in(seller_id: str, raw: dict[str, Any], change: OrderChange,
            found: Stored | None, ports: TaskPorts,
            now: datetime) -> Result:
    """What Amazon's order (getOrder's, or one of a searchOrders page) tells us: its status,
    money, packages and buyer data; and what follows (invoices, merchant stock)."""
    order_id = change.order_id
    try:
        details: OrderDetails | None = parsing.order_details(raw)
        problem = None
    except parsing.MoneyProblem as refused:
        # Kept, with its status and buyer data, but without money: a person looks at why.
        details, problem = None, refused.reason
    # Amazon's view heals a lost notification; an unchanged status adds no timeline entry.
    written = ports.orders.apply_change(change, now) if _behind(found[0] if found else None, change) else None
    applied = written if isinstance(written, Applied) else None
    if applied is not None:
        order = applied.order
    elif found is not None:
        order = found[0]
    else:
        again = ports.orders.get(order_id)
        if again is None:
            raise RetryLater(f"order {order_id} cannot be read back", delay_seconds=1)
        order = again[0]
    read_later = False
    if details is not None:
        stored = ports.orders.save_details(order_id, details)
        if stored is not None:
            read_later = read_again(stored, details.status, order.change_key)
            if read_later:
                # A change came in while Amazon was being read, and found the read on its way.
                ports.tasks.enqueue(fetch_task(seller_id, order_id, stored.marketplace_id, ORDER_CHANGED))
            order = stored
    else:
        ports.orders.needs_attention(order_id, str(problem), now)
    expires_at = buyer_data_expiry(change.delivered_at, order.deliver_by[1], order.purchase_date, now)
    ports.buyer_data.save(seller_id, order_id, parsing.personal_data(raw), change.changed_at, expires_at,
                          change.delivered_at, now)
    if details is not None and order.status in SHIPPED_STATUSES and not read_later:
        # Shipped (from Amazon's warehouses, or packages confirmed in Seller Central): its invoices
        # are due (once its packages are read); the invoices flow issues each once.
        _invoices_due(ports.tasks, seller_id, order_id)
    if applied is not None and change.fulfillment_channel == "MFN":
        # Amazon's order told us what no notification did (the backstop, a lost ORDER_CHANGE):
        # the merchant stock it reserves or releases follows.
        from chalicelib.flows.stock.triggers import order_task

        ports.tasks.enqueue(order_task(seller_id, order_id))
    if problem is not None:
        return Result(Outcome.ATTENTION, {"order_id": order_id, "attention": problem})
    # An order no notification brought (the backstop found it) is created by its details.
    return Result(Outcome.CREATED if found is None else Outcome.DONE, {"order_id": order_id})


# --- the search door -------------------------------------------------------------------------

def search_task(seller_id: str, marketplace_id: str, since: datetime) -> Task:
    return Task(SEARCH_DETAILS, seller_id, marketplace_id, {"marketplace_id": marketplace_id, "since": iso(since)})


def _open_search_of(ports: TaskPorts, name: str, now: datetime) -> datetime | None:
    """Since when the open search of `name` reads orders; None when none is open (or its chain
    stopped renewing its lease: the getOrder door takes over)."""
    assert ports.searches is not None
    found = ports.searches.search(name)
    return found[0] if found is not None and found[1] > now.timestamp() else None


def _open_search(ports: TaskPorts, seller_id: str, marketplace_id: str, changed_at: datetime,
                 now: datetime) -> None:
    """Open the seller's search door from a little before this order's change, and queue its
    first page; at most one search per seller and marketplace at a time."""
    assert ports.searches is not None
    since = changed_at - ports.search_lookback
    if ports.searches.open_search(watermark_name(seller_id, marketplace_id), since,
                                  now.timestamp() + ports.search_lease_seconds, now.timestamp()):
        ports.tasks.enqueue(search_task(seller_id, marketplace_id, since))


def search_given_up(task: Task, ports: TaskPorts, reason: str, now: datetime) -> None:
    """A page of the search door is given up (its message dead-lettered with `reason`): the door
    closes if it is still this chain's, so that the orders parked for it take getOrder when they
    come back instead of waiting out the lease."""
    if ports.searches is None or not task.param("marketplace_id"):
        return
    name = watermark_name(task.seller_id, task.param("marketplace_id"))
    since = _open_search_of(ports, name, now)
    if since is not None and utc(since) == utc(datetime.fromisoformat(task.param("since"))):
        ports.searches.close_search(name)


def search_details(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """One page of the search door: searchOrders over the window (from `since`; every page up
    to the bound Amazon set for the first), asking only for the orders the door reads
    (rules.SEARCH_STATUSES, SEARCH_FULFILLED_BY), with every includedData the details need; each
    order on it whose details are due is taken in as getOrder's would be. Then the next page,
    the next window, or the door closes."""
    assert ports.searches is not None
    seller_id, marketplace_id = task.seller_id, task.param("marketplace_id")
    name = watermark_name(seller_id, marketplace_id)
    ports.slots.take(task, "searchOrders", now.timestamp())
    since = datetime.fromisoformat(task.param("since"))
    # Every page of a window repeats its first request (Amazon refuses a token with other
    # parameters); the window's upper bound, which Amazon set for the first page, travels in the
    # token, and in the task as `before` for the next window.
    found_orders, next_token, last_updated_before = ports.amazon.search_orders(
        seller_id, marketplace_id, since, task.param("next_token"), included_data=parsing.INCLUDED_DATA,
        statuses=SEARCH_STATUSES, fulfilled_by=SEARCH_FULFILLED_BY)
    held = ports.orders.stored_together([str(raw.get("orderId") or "") for raw in found_orders if raw.get("orderId")])
    taken = 0
    for raw in found_orders:
        try:
            change = parsing.order_change(seller_id, raw)
        except PermanentError:
            continue  # its own getOrder (its notification's task) reports what is wrong with it
        stored = held.get(change.order_id)
        if stored is not None and stored[0].seller_id != seller_id:
            continue
        status = stored[0].status if stored is not None and not _behind(stored[0], change) else change.status
        if details_due(status, stored[1] if stored else None, change.fulfillment_channel) is None:
            continue
        take_in(seller_id, raw, change, stored, ports, now)
        taken += 1
    DETAILS_READ[Door.SEARCH.value] += taken
    due = int(task.param("due", 0)) + taken
    lease = now.timestamp() + ports.search_lease_seconds
    before = task.param("before") or last_updated_before or iso(now)
    facts = {"orders": len(found_orders), "details": taken}
    ports.searches.move_search(name, since, lease)
    if next_token:
        ports.tasks.enqueue(task.with_params(next_token=next_token, due=due, before=before))
        return Result(Outcome.DONE, {**facts, "next": "page"})
    upper = datetime.fromisoformat(before)
    queued = ports.slots.limiter.queued(seller_id, "getOrder", now.timestamp())
    if keeps_searching(due, (upper - since).total_seconds(), ports.slots.limiter.rate("getOrder"), queued):
        following = upper - ports.search_overlap
        ports.tasks.enqueue(search_task(seller_id, marketplace_id, following))
        ports.searches.move_search(name, following, lease)
        return Result(Outcome.DONE, {**facts, "next": "window"})
    ports.searches.close_search(name)
    return Result(Outcome.DONE, {**facts, "next": "closed"})


def _stock_moves(tasks: TaskQueue, change: OrderChange) -> None:
    from chalicelib.flows.stock.triggers import order_task

    tasks.enqueue(order_task(change.seller_id, change.order_id, change.changed_at))


def _invoices_due(tasks: TaskQueue, seller_id: str, order_id: str) -> None:
    from chalicelib.flows.invoices.triggers import issue_task

    tasks.enqueue(issue_task(seller_id, order_id))


# --- the backlog ------------------------------------------------------------------------------

class BacklogSources(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...
    def searches(self) -> dict[str, tuple[datetime, float]]: ...


class QueueLength(Protocol):
    def queued(self, seller_id: str, operation: str, now: float) -> float: ...
    def rate(self, operation: str) -> float: ...


def backlogs(state: BacklogSources, limiter: QueueLength, now: datetime,
             only: str | None = None) -> dict[str, Backlog]:
    """Each seller's (or `only` that seller's, known to be served) orders waiting for details
    (rules.backlog_of): one read of its getOrder bucket, and the search records."""
    open_since: dict[str, datetime] = {}
    for name, (since, lease) in state.searches().items():
        seller_id = name.split("#", 1)[0]
        if lease > now.timestamp() and (seller_id not in open_since or since < open_since[seller_id]):
            open_since[seller_id] = since
    rate = limiter.rate("getOrder")
    sellers = [only] if only is not None else [seller["seller_id"] for seller in state.sellers()]
    return {seller_id: backlog_of(limiter.queued(seller_id, "getOrder", now.timestamp()), rate,
                                  open_since.get(seller_id), now)
            for seller_id in sellers}


class Alerts(Protocol):
    def publish(self, subject: str, message: str) -> None: ...


def watch_backlog(found: dict[str, Backlog], state: PollState, alerts: Alerts, now: datetime,
                  scale: float = 1.0) -> dict[str, int]:
    """With the backstop poll: the backlog as gauges (all sellers, and each seller under the
    `seller` dimension), and the seller told (the ship-by alerts' topic, at most once an hour per
    seller) when an order waits past BACKLOG_ALERT_SECONDS (in Amazon's time: the local stack
    runs `scale` times faster)."""
    from chalicelib.core.observability import gauge, logger

    waiting = sum(b.get_order_queued for b in found.values())
    oldest = max((b.oldest_wait_seconds * scale for b in found.values()), default=0.0)
    gauge("OrdersDetailsQueued", waiting)
    gauge("OrdersDetailsOldestWaitSeconds", oldest)
    alerted = 0
    for seller_id, backlog in sorted(found.items()):
        age = backlog.oldest_wait_seconds * scale
        gauge("OrdersDetailsQueued", backlog.get_order_queued, seller=seller_id)
        gauge("OrdersDetailsOldestWaitSeconds", round(age), seller=seller_id)
        if age < BACKLOG_ALERT_SECONDS:
            continue
        logger().warning("orders wait for their details", extra={
            "seller_id": seller_id, "get_order_queued": backlog.get_order_queued,
            "oldest_wait_seconds": round(age), "searching": backlog.searching})
        mark = f"details-backlog-alert#{seller_id}"
        last = state.watermark(mark)
        if last is not None and (now - last).total_seconds() * scale < 3600:
            continue
        alerts.publish(f"sellerops: orders of {seller_id} wait {round(age / 60)} minutes for their details",
                       f"Seller {seller_id}: {backlog.get_order_queued} getOrder calls are booked ahead, and the "
                       f"longest-waiting order has waited {round(age / 60)} minutes for its money and buyer data"
                       f"{' (the searchOrders door is open)' if backlog.searching else ''}. Amazon's rate limits "
                       "set the pace: at a peak this clears once orders slow down (README: Orders at scale).")
        state.set_watermark(mark, now)
        alerted += 1
    return {"details_queued": waiting, "details_oldest_wait_seconds": round(oldest), "backlog_alerts": alerted}


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
