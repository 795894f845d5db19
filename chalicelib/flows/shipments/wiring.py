"""The shipments flow's ports, built once per container on first use."""
from __future__ import annotations

from chalicelib.core import wiring
from chalicelib.flows.shipments.rules import OrderFacts
from chalicelib.flows.shipments.service import RecordPorts, TaskPorts
from chalicelib.flows.shipments.store import DynamoShipments


class OrderRecords:
    """What the shipments rules need of an order, read from the orders flow's store."""

    def facts(self, order_id: str) -> OrderFacts | None:
        from chalicelib.flows.orders import wiring as orders

        found = orders.orders().get(order_id, consistent=True)
        if found is None:
            return None
        order = found[0]
        # The items ORDER_CHANGE named, else getOrder's (an order the backstop found).
        items = [(line.order_item_id, line.sku, line.quantity) for line in order.lines] or [
            (line.order_item_id, line.sku, line.quantity) for line in (order.details.lines if order.details else ())]
        shipped = {line.order_item_id: line.quantity_shipped for line in order.lines}
        return OrderFacts(order.order_id, order.seller_id, order.marketplace_id, order.status.value,
                          order.fulfillment_channel, order.purchase_date,
                          tuple((item_id, sku, quantity, shipped.get(item_id, 0)) for item_id, sku, quantity in items))


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
                     amazon=SpApiShipments(wiring.spapi()))
