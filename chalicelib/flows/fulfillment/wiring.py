"""The fulfillment flow's ports, built once per container on first use."""
from __future__ import annotations

from chalicelib.core import wiring
from chalicelib.flows.fulfillment.service import IntakePorts, RequestPorts, TaskPorts
from chalicelib.flows.fulfillment.store import DynamoFulfillmentOrders


@wiring.cached
def orders() -> DynamoFulfillmentOrders:
    return DynamoFulfillmentOrders()


@wiring.cached
def request_ports() -> RequestPorts:
    from chalicelib.flows.orders import wiring as order_wiring  # the buyer-data table seals the recipient

    return RequestPorts(orders=orders(), recipients=order_wiring.buyer_data(), tasks=wiring.task_queue())


@wiring.cached
def intake_ports() -> IntakePorts:
    return IntakePorts(orders=orders(), tasks=wiring.task_queue(), sellers=wiring.state())


@wiring.cached
def task_ports() -> TaskPorts:
    from chalicelib.flows.fulfillment.amazon import SpApiFulfillment  # sp_api only where Amazon is called
    from chalicelib.flows.orders import wiring as order_wiring

    return TaskPorts(orders=orders(), recipients=order_wiring.buyer_data(), tasks=wiring.task_queue(),
                     slots=wiring.slots(), ledger=wiring.state(), amazon=SpApiFulfillment(wiring.spapi()))
