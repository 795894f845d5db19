"""Multi-Channel Fulfillment: send an order to Amazon's warehouses once, follow it from Amazon's
notifications, cancel it while Amazon allows."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.envelope import Notification, get
from chalicelib.core.errors import InvalidNotification, PermanentError, RetryLater
from chalicelib.core.fields import quote
from chalicelib.core.once import Call, CallLedger, call_once
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue
from chalicelib.core.times import iso, iso_seconds
from chalicelib.flows.fulfillment import rules
from chalicelib.flows.fulfillment.rules import FulfillmentOrder, FulfillmentRequest, State

FULFILLMENT_ORDER_STATUS = "FULFILLMENT_ORDER_STATUS"
CREATE = "create_fulfillment_order"
REFRESH = "refresh_fulfillment_order"
CANCEL = "cancel_fulfillment_order"
# The recipient is kept until Amazon has it (or refused it), at most this long.
RECIPIENT_KEPT = timedelta(days=60)


def recipient_key(seller_id: str, fulfillment_order_id: str, fingerprint: str | None) -> str:
    """Where a request's recipient is sealed, in the buyer-data table: one per request, so two
    requests racing under one id never seal over each other (the order's fingerprint picks)."""
    return f"mcf:{seller_id}:{fulfillment_order_id}:{fingerprint}"


class Store(Protocol):
    def get(self, seller_id: str, fulfillment_order_id: str) -> FulfillmentOrder | None: ...
    def save(self, order: FulfillmentOrder, now: datetime) -> bool: ...


class Recipients(Protocol):
    def seal_new(self, seller_id: str, key: str, personal: dict[str, Any], expires_at: datetime) -> bool: ...


class RecipientsOpen(Protocol):
    def get(self, order_id: str, now: datetime | None = None) -> dict[str, Any] | None: ...
    def shorten(self, order_id: str, expires_at: datetime, delivered_at: datetime,
                now: datetime | None = None) -> bool: ...


class Amazon(Protocol):
    def create(self, seller_id: str, marketplace_id: str, body: dict[str, Any]) -> None: ...
    def get(self, seller_id: str, marketplace_id: str, fulfillment_order_id: str) -> dict[str, Any] | None: ...
    def cancel(self, seller_id: str, marketplace_id: str, fulfillment_order_id: str) -> None: ...


@dataclass(frozen=True)
class RequestPorts:
    orders: Store
    recipients: Recipients
    tasks: TaskQueue


class Sellers(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...


class PendingStore(Store, Protocol):
    def pending(self, seller_id: str, limit: int = 500) -> list[str]: ...


@dataclass(frozen=True)
class IntakePorts:
    orders: Store
    tasks: TaskQueue
    sellers: Sellers | None = None  # the marketplaces of an order made elsewhere


@dataclass(frozen=True)
class TaskPorts:
    orders: Store
    recipients: RecipientsOpen
    tasks: TaskQueue
    slots: Slots
    ledger: CallLedger
    amazon: Amazon


def _task(kind: str, order: FulfillmentOrder) -> Task:
    return Task(kind, order.seller_id, order.fulfillment_order_id, {"marketplace_id": order.marketplace_id})


def request_fulfillment(ports: RequestPorts, request: FulfillmentRequest,
                        now: datetime) -> tuple[FulfillmentOrder, bool]:
    """Record the order and queue its creation at Amazon: (the order, True when new). The same
    id with the same request answers the order recorded first; with another, `rules.Refused`."""
    for _ in range(3):
        existing = ports.orders.get(request.seller_id, request.fulfillment_order_id)
        if existing is not None:
            rules.check_again(existing, request)
            if existing.state is State.REQUESTED:
                ports.tasks.enqueue(_task(CREATE, existing))  # its first task may have been lost
            return existing, False
        # Sealed first: a recipient without its order is harmless (it expires); never the reverse.
        ports.recipients.seal_new(request.seller_id,
                                  recipient_key(request.seller_id, request.fulfillment_order_id, request.fingerprint()),
                                  _sealed(request), now + RECIPIENT_KEPT)
        order = rules.new_order(request, now)
        if ports.orders.save(order, now):
            ports.tasks.enqueue(_task(CREATE, order))
            return replace(order, version=1), True
    raise RetryLater(f"fulfillment order {request.fulfillment_order_id} is being sent by several requests at once",
                     delay_seconds=1)


def request_cancel(ports: RequestPorts, seller_id: str, fulfillment_order_id: str,
                   now: datetime) -> FulfillmentOrder:
    """Queue the cancellation if Amazon still allows it (`rules.Refused` otherwise); asking
    again while it is on its way queues it again (its task may have been lost; the call is
    made once whatever)."""
    for _ in range(3):
        order = ports.orders.get(seller_id, fulfillment_order_id)
        if order is None:
            raise LookupError(fulfillment_order_id)
        if order.amazon_status == "Cancelled":
            return order
        if order.cancel_requested_at is not None:
            ports.tasks.enqueue(_task(CANCEL, order))
            return order
        rules.check_cancel(order)
        wanted = replace(order, cancel_requested_at=now)
        if ports.orders.save(wanted, now):
            ports.tasks.enqueue(_task(CANCEL, wanted))
            return replace(wanted, version=wanted.version + 1)
    raise RetryLater(f"fulfillment order {fulfillment_order_id} is changing: try again", delay_seconds=1)


def _change(ports: TaskPorts | IntakePorts, seller_id: str, fulfillment_order_id: str, now: datetime,
            change: Any) -> FulfillmentOrder:
    """Apply `change(order) -> order | None` on the order as stored, read again on a race."""
    for _ in range(5):
        order = ports.orders.get(seller_id, fulfillment_order_id)
        if order is None:
            raise PermanentError(f"fulfillment order {quote(fulfillment_order_id)} is not recorded")
        changed = change(order)
        if changed is None:
            return order
        if ports.orders.save(changed, now):
            return replace(changed, version=changed.version + 1)
    raise RetryLater(f"fulfillment order {fulfillment_order_id} is being changed by another attempt", delay_seconds=1)


def _sealed(request: FulfillmentRequest) -> dict[str, Any]:
    """What is sealed apart: the recipient, and the packing slip's words with it."""
    return {"address": dict(request.recipient), "comment": request.comment, "policy": request.policy,
            "fingerprint": request.fingerprint(),
            "displayable_order_date": iso_seconds(request.displayable_order_date)}


def _body(order: FulfillmentOrder, sealed: dict[str, Any]) -> dict[str, Any]:
    return {"marketplaceId": order.marketplace_id, "sellerFulfillmentOrderId": order.fulfillment_order_id,
            "displayableOrderId": order.displayable_order_id,
            "displayableOrderDate": sealed["displayable_order_date"],
            "displayableOrderComment": sealed["comment"], "shippingSpeedCategory": order.speed,
            "fulfillmentPolicy": sealed["policy"], "destinationAddress": dict(sealed["address"]),
            "items": [{"sellerSku": i.sku, "sellerFulfillmentOrderItemId": i.item_id, "quantity": i.quantity}
                      for i in order.items]}


def create_order(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """createFulfillmentOrder, at most once (core/once.py); after an unknown outcome the next
    attempt asks Amazon whether the order exists."""
    order = ports.orders.get(task.seller_id, task.key)
    if order is None:
        raise PermanentError(f"fulfillment order {quote(task.key)} is not recorded for seller {quote(task.seller_id)}")
    if order.state is not State.REQUESTED:
        return Result(Outcome.SKIPPED, {"fulfillment_order_id": order.fulfillment_order_id})
    key = recipient_key(order.seller_id, order.fulfillment_order_id, order.fingerprint)
    sealed = ports.recipients.get(key, now)
    if sealed is None or sealed.get("fingerprint") != order.fingerprint:
        # Gone (kept 60 days), or sealed by another request under the same id that lost the race.
        why = ("the recipient is no longer held" if sealed is None else
               "the recipient held is another request's") + ": send the order again under a new id"
        _change(ports, order.seller_id, order.fulfillment_order_id, now,
                lambda o: rules.refused(o, why) if o.state is State.REQUESTED else None)
        return Result(Outcome.ATTENTION, {"fulfillment_order_id": order.fulfillment_order_id, "attention": why})
    ports.slots.take(task, "createFulfillmentOrder", now.timestamp())
    body = _body(order, sealed)
    # The ledger keeps a digest of the request, without the recipient.
    call = Call(order.seller_id, "createFulfillmentOrder", order.fulfillment_order_id,
                {**{k: v for k, v in body.items() if k != "destinationAddress"}, "recipient": order.fingerprint})

    def send() -> dict[str, Any]:
        ports.amazon.create(order.seller_id, order.marketplace_id, body)
        return {"created": True}

    def reconcile() -> dict[str, Any] | None:
        found = ports.amazon.get(order.seller_id, order.marketplace_id, order.fulfillment_order_id)
        return {"created": True} if found is not None else None

    try:
        call_once(ports.ledger, call, send, reconcile)
    except PermanentError as refusal:
        reason = refusal.reason
        _change(ports, order.seller_id, order.fulfillment_order_id, now,
                lambda o: rules.refused(o, reason) if o.state is State.REQUESTED else None)
        ports.recipients.shorten(key, now, now, now)  # never sent again: not kept either
        return Result(Outcome.ATTENTION, {"fulfillment_order_id": order.fulfillment_order_id,
                                          "attention": reason[:200]})
    done = _change(ports, order.seller_id, order.fulfillment_order_id, now,
                   lambda o: rules.created(o) if o.state is State.REQUESTED else None)
    # Amazon holds the recipient now: ours goes with the next purge.
    ports.recipients.shorten(key, now, now, now)
    ports.tasks.enqueue(_task(REFRESH, done))
    return Result(Outcome.CREATED, {"fulfillment_order_id": order.fulfillment_order_id})


def refresh_order(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """getFulfillmentOrder: Amazon's status, shipments, packages, tracking and returns."""
    order = ports.orders.get(task.seller_id, task.key)
    if order is None:
        raise PermanentError(f"fulfillment order {quote(task.key)} is not recorded for seller {quote(task.seller_id)}")
    ports.slots.take(task, "getFulfillmentOrder", now.timestamp())
    found = ports.amazon.get(order.seller_id, order.marketplace_id, order.fulfillment_order_id)
    if found is None:
        return Result(Outcome.SKIPPED, {"fulfillment_order_id": order.fulfillment_order_id, "at_amazon": False})
    status, updated, snapshot = rules.snapshot_of(found)
    moment = rules.amazon_time(updated)
    stored = _change(ports, order.seller_id, order.fulfillment_order_id, now,
                     lambda o: rules.with_snapshot(o, status, moment, snapshot, now))
    changed = stored.version != order.version
    return Result(Outcome.UPDATED if changed else Outcome.DUPLICATE,
                  {"fulfillment_order_id": order.fulfillment_order_id, "status": stored.amazon_status})


def cancel_order(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """cancelFulfillmentOrder, once; Amazon's refusal (the order was picked meanwhile) is kept."""
    order = ports.orders.get(task.seller_id, task.key)
    if order is None:
        raise PermanentError(f"fulfillment order {quote(task.key)} is not recorded for seller {quote(task.seller_id)}")
    if order.amazon_status == "Cancelled" or order.cancel_requested_at is None:
        return Result(Outcome.SKIPPED, {"fulfillment_order_id": order.fulfillment_order_id})
    ports.slots.take(task, "cancelFulfillmentOrder", now.timestamp())
    # One call per cancellation asked: after a refusal, a new request is a new call.
    asked = iso(order.cancel_requested_at)
    call = Call(order.seller_id, "cancelFulfillmentOrder", f"{order.fulfillment_order_id}#{asked}",
                {"id": order.fulfillment_order_id, "at": asked})

    def reconcile() -> dict[str, Any] | None:
        found = ports.amazon.get(order.seller_id, order.marketplace_id, order.fulfillment_order_id)
        status = rules.snapshot_of(found)[0] if found is not None else None
        return {"cancelled": True} if status == "Cancelled" else None

    def send() -> dict[str, Any]:
        ports.amazon.cancel(order.seller_id, order.marketplace_id, order.fulfillment_order_id)
        return {"cancelled": True}

    try:
        call_once(ports.ledger, call, send, reconcile)
    except PermanentError as refusal:
        reason = refusal.reason
        _change(ports, order.seller_id, order.fulfillment_order_id, now,
                lambda o: rules.cancel_refused(o, reason) if o.cancel_requested_at == order.cancel_requested_at
                else None)
        ports.tasks.enqueue(_task(REFRESH, order))
        return Result(Outcome.ATTENTION, {"fulfillment_order_id": order.fulfillment_order_id})
    ports.tasks.enqueue(_task(REFRESH, order))
    return Result(Outcome.DONE, {"fulfillment_order_id": order.fulfillment_order_id})


def record_status(notification: Notification, ports: IntakePorts, now: datetime) -> Result:
    """FULFILLMENT_ORDER_STATUS: read the order again from Amazon (getFulfillmentOrder). An order
    created elsewhere (Seller Central, another tool) is followed too, from then on."""
    body = get(notification.payload, "FulfillmentOrderStatusNotification")
    if not isinstance(body, dict):
        raise InvalidNotification(f"{notification.label}: the payload has no FulfillmentOrderStatusNotification")
    order_id, seller_id = get(body, "SellerFulfillmentOrderId"), get(body, "SellerId") or notification.seller_id
    if not isinstance(order_id, str) or not rules.is_id(order_id):
        raise InvalidNotification(f"{notification.label}: SellerFulfillmentOrderId is missing or not an id")
    if not isinstance(seller_id, str) or not seller_id:
        raise InvalidNotification(f"{notification.label}: SellerId is missing")
    order = ports.orders.get(seller_id, order_id)
    if order is None:
        # The notification names no marketplace: the seller's first one picks Amazon's region
        # until getFulfillmentOrder tells (rules.with_snapshot).
        known = next((s for s in (ports.sellers.sellers() if ports.sellers else []) if s["seller_id"] == seller_id),
                     None)
        marketplaces = sorted((known or {}).get("marketplace_ids") or [])
        order = FulfillmentOrder(order_id, seller_id, marketplaces[0] if marketplaces else "", State.CREATED, now)
        ports.orders.save(order, now)  # lost to a concurrent copy of this notification: the same record
    ports.tasks.enqueue(_task(REFRESH, order))
    # UPDATED, not CREATED: counts of created records are the orders' (the demo's summary).
    return Result(Outcome.UPDATED, {"fulfillment_order_id": order_id})



# A creation or cancellation still on its way this long after it was asked (its task lost
# between the write and the queue) is queued again; a task still on its way does no harm.
SWEEP_AFTER = timedelta(minutes=10)


def sweep_pending(store: PendingStore, sellers: Sellers, tasks: TaskQueue, now: datetime) -> dict[str, int]:
    queued = 0
    for seller in sellers.sellers():
        for order_id in store.pending(seller["seller_id"]):
            order = store.get(seller["seller_id"], order_id)
            if order is None:
                continue
            if order.state is State.REQUESTED and now - order.requested_at >= SWEEP_AFTER:
                tasks.enqueue(_task(CREATE, order))
                queued += 1
            elif (order.state is State.CREATED and order.cancel_requested_at is not None
                  and order.amazon_status != "Cancelled" and now - order.cancel_requested_at >= SWEEP_AFTER):
                tasks.enqueue(_task(CANCEL, order))
                queued += 1
    return {"queued": queued}
