"""The shipments flow's ports, built once per container on first use."""
from __future__ import annotations

from typing import Any

from chalicelib.core import wiring
from chalicelib.flows.orders.rules import Order
from chalicelib.flows.shipments.rules import OrderFacts
from chalicelib.flows.shipments.service import AlertPorts, RecordPorts, TaskPorts
from chalicelib.flows.shipments.store import DynamoShipments


def facts_of(order: Order) -> OrderFacts:
    # The items ORDER_CHANGE named, else getOrder's (an order the backstop found).
    items = [(line.order_item_id, line.sku, line.quantity) for line in order.lines] or [
        (line.order_item_id, line.sku, line.quantity) for line in (order.details.lines if order.details else ())]
    shipped = {line.order_item_id: line.quantity_shipped for line in order.lines}
    return OrderFacts(order.order_id, order.seller_id, order.marketplace_id, order.status.value,
                      order.fulfillment_channel, order.purchase_date,
                      tuple((item_id, sku, quantity, shipped.get(item_id, 0)) for item_id, sku, quantity in items),
                      tuple(p.package_reference_id for p in (order.details.packages if order.details else ())))


class OrderRecords:
    """What the shipments rules need of an order, read from the orders flow's store."""

    def facts(self, order_id: str) -> OrderFacts | None:
        from chalicelib.flows.orders import wiring as orders

        found = orders.orders().get(order_id, consistent=True)
        return facts_of(found[0]) if found is not None else None

    def facts_of_many(self, order_ids: list[str]) -> dict[str, OrderFacts]:
        from chalicelib.flows.orders import wiring as orders

        return {order_id: facts_of(order) for order_id, order in orders.orders().read_many(order_ids).items()}


@wiring.cached
def shipments() -> DynamoShipments:
    return DynamoShipments()


@wiring.cached
def record_ports() -> RecordPorts:
    return RecordPorts(shipments=shipments(), orders=OrderRecords(), tasks=wiring.task_queue())


@wiring.cached
def task_ports() -> TaskPorts:
    from chalicelib.flows.shipments.amazon import SpApiShipments  # sp_api only where Amazon is called

    return TaskPorts(shipments=shipments(), slots=wiring.slots(), ledger=wiring.state(),
                     amazon=SpApiShipments(wiring.spapi()), tasks=wiring.task_queue())


def due_index() -> Any:  # the orders flow's store: its by_ship_by index
    from chalicelib.flows.orders import wiring as orders

    return orders.orders()


@wiring.cached
def alert_ports() -> AlertPorts:
    from chalicelib.core.alerts import SnsAlerts

    return AlertPorts(due=due_index(), sellers=wiring.state(), publisher=SnsAlerts())


def confirmed_units(order_id: str) -> dict[str, int]:
    """Units per order item in the order's packages confirmed to Amazon (for the other flows)."""
    from chalicelib.flows.shipments.rules import ShipmentState

    found = shipments().get(order_id)
    units: dict[str, int] = {}
    for shipment in found.shipments if found else ():
        if shipment.state is ShipmentState.CONFIRMED:
            for line in shipment.lines:
                units[line.order_item_id] = units.get(line.order_item_id, 0) + line.quantity
    return units
