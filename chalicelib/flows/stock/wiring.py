"""The stock flow's ports, built once per container on first use, and what it reads of the orders
and shipments flows (their stores, through this adapter only)."""
from __future__ import annotations

from chalicelib import config
from chalicelib.core import wiring
from chalicelib.flows.stock.rules import ItemFact
from chalicelib.flows.stock.service import MERCHANT, IntakePorts, TaskPorts, facts_of_change
from chalicelib.flows.stock.store import DynamoStock


class OrderStockFacts:
    """A merchant order's items as stock sees them: the orders flow's status and quantities, and
    the units the shipments flow confirmed to Amazon (the higher of the two counts as consumed)."""

    def order_facts(self, seller_id: str, order_id: str) -> list[ItemFact] | None:
        from chalicelib.flows.orders import wiring as orders
        from chalicelib.flows.shipments import wiring as shipments

        found = orders.orders().get(order_id, consistent=True)
        if found is None or found[0].seller_id != seller_id:
            return None
        order = found[0]
        channel = order.fulfillment_channel
        if channel is None and order.details is not None:
            channel = MERCHANT if order.details.fulfilled_by == "MERCHANT" else None
        lines = [(line.order_item_id, line.sku, line.quantity, line.quantity_shipped) for line in order.lines] or [
            (line.order_item_id, line.sku, line.quantity, 0) for line in (order.details.lines if order.details else ())]
        confirmed = shipments.confirmed_units(order_id)
        lines = [(item_id, sku, quantity, max(shipped, confirmed.get(item_id, 0)))
                 for item_id, sku, quantity, shipped in lines]
        return facts_of_change(seller_id, order_id, order.status.value, channel, lines)


@wiring.cached
def stock() -> DynamoStock:
    return DynamoStock(config.stock_reorder_point())


@wiring.cached
def intake_ports() -> IntakePorts:
    return IntakePorts(stock=stock(), tasks=wiring.task_queue())


@wiring.cached
def task_ports() -> TaskPorts:
    return TaskPorts(stock=stock(), tasks=wiring.task_queue(), orders=OrderStockFacts())


@wiring.cached
def amazon_ports() -> TaskPorts:
    from chalicelib.flows.stock.amazon import SpApiStock  # sp_api only where Amazon is called

    return TaskPorts(stock=stock(), tasks=wiring.task_queue(), slots=wiring.slots(), ledger=wiring.state(),
                     amazon=SpApiStock(wiring.spapi()), sellers=wiring.state())
