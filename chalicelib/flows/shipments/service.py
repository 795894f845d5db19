"""Shipments: record what the warehouse shipped (checked against the order), confirm it to Amazon
exactly once, and sweep for confirmations whose task was lost."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.core.alerts import AlertNotSent
from chalicelib.core.csvfile import RowProblem
from chalicelib.core.errors import PermanentError, RetryLater
from chalicelib.core.fields import quote
from chalicelib.core.once import Call, CallLedger, call_once
from chalicelib.core.tasks import Outcome, Result, Slots, Task, TaskQueue
from chalicelib.core.times import iso_seconds
from chalicelib.flows.shipments import imports, rules, shipby
from chalicelib.flows.shipments.rules import OrderFacts, OrderShipments, Shipment, ShipmentRequest, ShipmentState

CONFIRM_SHIPMENT = "confirm_shipment"
# A pending confirmation older than this, with its task lost (a failed send after recording),
# is queued again by the sweep; a task still on its way does no harm: confirmations are once.
SWEEP_AFTER = timedelta(minutes=10)


class ShipmentStore(Protocol):
    def get(self, order_id: str) -> OrderShipments | None: ...
    def save(self, current: OrderShipments, shipments: tuple[Shipment, ...], now: datetime) -> bool: ...
    def pending(self, seller_id: str, limit: int = 500) -> list[str]: ...


class Orders(Protocol):
    def facts(self, order_id: str) -> OrderFacts | None: ...


class AmazonShipments(Protocol):
    def confirm_shipment(self, seller_id: str, marketplace_id: str | None, order_id: str,
                         body: dict[str, Any]) -> None: ...
    def package_references(self, seller_id: str, marketplace_id: str | None, order_id: str) -> set[str]: ...


class Sellers(Protocol):
    def sellers(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class RecordPorts:
    shipments: ShipmentStore
    orders: Orders
    tasks: TaskQueue


@dataclass(frozen=True)
class TaskPorts:
    shipments: ShipmentStore
    slots: Slots
    ledger: CallLedger
    amazon: AmazonShipments
    tasks: TaskQueue | None = None  # asks the invoices flow for the shipment's invoice


def confirm_task(shipment: Shipment) -> Task:
    return Task(CONFIRM_SHIPMENT, shipment.seller_id, shipment.shipment_id,
                {"marketplace_id": shipment.marketplace_id})


def record_shipment(ports: RecordPorts, order_id: str, request: ShipmentRequest, now: datetime,
                    may_see: Any = None) -> Shipment:
    """Record one shipment of `order_id` and queue its confirmation. Raises `rules.Refused` (the
    order does not allow it, the request is wrong) and LookupError (no such order); writes
    nothing then."""
    for _ in range(5):  # a concurrent shipment of the same order: read again, check again
        order = ports.orders.facts(order_id)
        if order is None or (may_see is not None and not may_see(order.seller_id)):
            raise LookupError(f"no order {order_id} has been received")
        current = ports.shipments.get(order_id) or OrderShipments(order_id, order.seller_id)
        shipment = rules.new_shipment(order, current.shipments, request, now)
        if ports.shipments.save(current, (*current.shipments, shipment), now):
            ports.tasks.enqueue(confirm_task(shipment))
            return shipment
    raise RetryLater(f"order {order_id} is being shipped by several requests at once: try again", delay_seconds=1)


class ImportRefused(Exception):
    """The file is not applied, not a row of it: `problems` says what, line by line; `malformed`
    when a row is wrong in itself (else the rows do not fit their orders)."""

    def __init__(self, problems: list[RowProblem], malformed: bool):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
        self.malformed = malformed


def import_shipments(ports: RecordPorts, text: str, now: datetime, may_see: Any = None) -> dict[str, Any]:
    """A warehouse export (shipments/imports.py): every package checked against its order,
    counting the file's earlier packages, before any is recorded; a file with a problem applies
    nothing. A package already recorded (same order and tracking number) is not recorded again,
    so the same file imported twice changes nothing."""
    packages, problems = imports.parse(text)
    if problems:
        raise ImportRefused(problems, malformed=True)
    orders: dict[str, tuple[OrderFacts | None, list[Shipment]]] = {}
    planned: list[imports.Package] = []
    already: list[str] = []
    for package in packages:
        if package.order_id not in orders:
            facts = ports.orders.facts(package.order_id)
            if facts is not None and may_see is not None and not may_see(facts.seller_id):
                facts = None
            current = ports.shipments.get(package.order_id) if facts else None
            orders[package.order_id] = (facts, list(current.shipments) if current else [])
        facts, recorded = orders[package.order_id]
        if facts is None:
            problems.append(RowProblem(package.line, "order_id", f"no order {package.order_id} has been received"))
            continue
        same = next((s for s in recorded if s.tracking_number == package.request.tracking_number
                     and s.state is not ShipmentState.REJECTED), None)
        if same is not None:
            already.append(same.shipment_id)
            continue
        try:
            recorded.append(rules.new_shipment(facts, tuple(recorded), package.request, now))
        except rules.Refused as refused:
            problems.append(RowProblem(package.line, None, refused.message))
            continue
        planned.append(package)
    if problems:
        raise ImportRefused(problems[:100], malformed=False)
    recorded_now = [record_shipment(ports, p.order_id, p.request, now, may_see).shipment_id for p in planned]
    return {"applied": len(recorded_now), "alreadyRecorded": len(already), "shipments": recorded_now + already}


def _confirmation_body(shipment: Shipment) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "packageReferenceId": shipment.package_reference_id, "carrierCode": shipment.carrier_code,
        "trackingNumber": shipment.tracking_number, "shipDate": iso_seconds(shipment.ship_date),
        "orderItems": [{"orderItemId": line.order_item_id, "quantity": line.quantity} for line in shipment.lines]}
    if shipment.carrier_name:
        detail["carrierName"] = shipment.carrier_name
    if shipment.shipping_method:
        detail["shippingMethod"] = shipment.shipping_method
    if shipment.ship_from_supply_source_id:
        detail["shipFromSupplySourceId"] = shipment.ship_from_supply_source_id
    return {"marketplaceId": shipment.marketplace_id, "packageDetail": detail}


def _settle(ports: TaskPorts, order_id: str, number: int, now: datetime, refusal: str | None,
            read: OrderShipments | None = None) -> Shipment:
    """Record Amazon's answer, on the order's shipments as last read (read again if they changed)."""
    for _ in range(5):
        current, read = read or ports.shipments.get(order_id), None
        found = current.get(number) if current else None
        if current is None or found is None:
            raise PermanentError(f"shipment {quote(order_id)}.{number} is not recorded")
        if found.state is not ShipmentState.PENDING:
            return found
        settled = rules.answered(found, now, refusal)
        shipments = tuple(settled if s.number == number else s for s in current.shipments)
        if ports.shipments.save(current, shipments, now):
            return settled
    raise RetryLater(f"shipment {order_id}.{number} is being changed by another attempt", delay_seconds=1)


def confirm_shipment(task: Task, ports: TaskPorts, now: datetime) -> Result:
    """confirmShipment, at most once per shipment: the ledger (core/once.py) records the intent
    first; after an unknown outcome the next attempt reads the order's packages at Amazon."""
    parsed = rules.parse_shipment_id(task.key)
    if parsed is None:
        raise PermanentError(f"{quote(task.key)} is not a shipment id")
    order_id, number = parsed
    current = ports.shipments.get(order_id)
    shipment = current.get(number) if current else None
    if shipment is None or shipment.seller_id != task.seller_id:
        raise PermanentError(f"shipment {quote(task.key)} is not recorded for seller {quote(task.seller_id)}")
    if shipment.state is not ShipmentState.PENDING:
        if shipment.state is ShipmentState.CONFIRMED:
            _ask_for_invoice(ports, shipment)  # again: the attempt that confirmed it may have stopped before
        return Result(Outcome.SKIPPED, {"shipment_id": shipment.shipment_id})
    ports.slots.take(task, "confirmShipment", now.timestamp())
    body = _confirmation_body(shipment)
    call = Call(shipment.seller_id, "confirmShipment", f"{order_id}#{shipment.package_reference_id}", body)

    def send() -> dict[str, Any]:
        ports.amazon.confirm_shipment(shipment.seller_id, shipment.marketplace_id, order_id, body)
        return {"packageReferenceId": shipment.package_reference_id}

    def reconcile() -> dict[str, Any] | None:
        references = ports.amazon.package_references(shipment.seller_id, shipment.marketplace_id, order_id)
        return {"packageReferenceId": shipment.package_reference_id} if shipment.package_reference_id in references \
            else None

    try:
        call_once(ports.ledger, call, send, reconcile)
    except PermanentError as refused:  # AlreadyRefused too: Amazon refused it before
        settled = _settle(ports, order_id, number, now, refused.reason, current)
        return Result(Outcome.ATTENTION, {"shipment_id": settled.shipment_id, "attention": settled.explanation})
    _ask_for_invoice(ports, _settle(ports, order_id, number, now, None, current))
    return Result(Outcome.DONE, {"shipment_id": shipment.shipment_id})


def _ask_for_invoice(ports: TaskPorts, shipment: Shipment) -> None:
    """Amazon has the package: its invoice is due (the invoices flow issues it once), and its
    units leave the stock ledger."""
    from chalicelib.flows.invoices.triggers import issue_task
    from chalicelib.flows.stock.triggers import order_task

    if ports.tasks is not None and shipment.state is ShipmentState.CONFIRMED:
        ports.tasks.enqueue(issue_task(shipment.seller_id, shipment.order_id))
        # The package left the shelf: its units are consumed (the stock flow applies it once).
        ports.tasks.enqueue(order_task(shipment.seller_id, shipment.order_id))


def sweep_pending(store: ShipmentStore, sellers: Sellers, tasks: TaskQueue, now: datetime) -> dict[str, int]:
    """Every 15 minutes: queue the confirmation of every shipment pending for a while (its task
    may have been lost between recording and queueing)."""
    queued = 0
    for seller in sellers.sellers():
        for order_id in store.pending(seller["seller_id"]):
            current = store.get(order_id)
            for shipment in current.shipments if current else ():
                if shipment.state is ShipmentState.PENDING and now - shipment.recorded_at >= SWEEP_AFTER:
                    tasks.enqueue(confirm_task(shipment))
                    queued += 1
    return {"queued": queued}


# --- ship-by alerts -----------------------------------------------------------------------

DUE_PAGE = 500
MAX_DUE_PER_SELLER = 20_000  # per run; more than that and the digest says "and N more" anyway


class DueIndex(Protocol):
    """The orders Amazon waits for the seller to ship, by latest ship date (orders/store.py)."""

    def due(self, seller_id: str, before: datetime, limit: int,
            start: dict[str, Any] | None) -> tuple[list[Any], dict[str, Any] | None]: ...
    def count_due(self, seller_id: str, before: datetime) -> int: ...
    def mark_alerted(self, order_id: str, mark: str, ship_by_key: str) -> bool: ...
    def unmark_alerted(self, order_id: str, mark: str) -> None: ...


class Publisher(Protocol):
    def publish(self, subject: str, message: str) -> None: ...  # raises AlertNotSent


@dataclass(frozen=True)
class AlertPorts:
    due: DueIndex
    sellers: Sellers
    publisher: Publisher


def due_counts(due: DueIndex, seller_ids: list[str], now: datetime, window: timedelta) -> dict[str, int]:
    """For /health and the metric: orders due within the window (late ones included), and late."""
    return {"due": sum(due.count_due(s, now + window) for s in seller_ids),
            "late": sum(due.count_due(s, now) for s in seller_ids)}


def alert_ship_by(ports: AlertPorts, now: datetime, window: timedelta) -> dict[str, int]:
    """The schedule: count the orders due and late, and publish one digest of those that crossed
    a threshold since the last run (at most MAX_ALERTS_PER_RUN; the rest go next run). Each
    alert is marked on its order before the digest is sent (at most once per order, threshold
    and latest ship date, even with two runs at once, and only while Amazon still waits for the
    order); if the digest is certainly not sent (SNS refused it, or could not be reached), the
    marks are taken back and the next run sends it. A crash between the two loses at most one
    run's alerts: a run marks a few hundred items, far inside its timeout."""
    counts = {"due": 0, "late": 0}
    alerts: list[shipby.Alert] = []
    for seller in ports.sellers.sellers():
        start: dict[str, Any] | None = None
        seen = 0
        while seen < MAX_DUE_PER_SELLER:
            page, start = ports.due.due(seller["seller_id"], now + window, DUE_PAGE, start)
            seen += len(page)
            for order in page:
                crossed = shipby.threshold(order.latest_ship_date, now, window)
                if crossed is not None:
                    counts["due"] += 1
                    counts["late"] += crossed is shipby.Threshold.LATE
                alert = shipby.to_alert(order.seller_id, order.order_id, order.latest_ship_date, order.alerted,
                                        now, window)
                if alert is None or len(alerts) >= shipby.MAX_ALERTS_PER_RUN:
                    continue
                if ports.due.mark_alerted(alert.order_id, shipby.mark(alert.threshold, alert.latest_ship_date),
                                          order.ship_by_key):
                    alerts.append(alert)
            if start is None:
                break
    if alerts:
        subject, text = shipby.digest(alerts, now, window)
        try:
            ports.publisher.publish(subject, text)
        except AlertNotSent:
            for alert in alerts:
                ports.due.unmark_alerted(alert.order_id, shipby.mark(alert.threshold, alert.latest_ship_date))
            raise
    return {**counts, "alerted": len(alerts)}
