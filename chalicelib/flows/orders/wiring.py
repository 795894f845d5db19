"""The orders flow's ports, built once per container on first use."""
from __future__ import annotations

from datetime import timedelta

from chalicelib import config
from chalicelib.core import aws, wiring
from chalicelib.core.datakeys import DataKeys
from chalicelib.flows.orders.service import IntakePorts, TaskPorts
from chalicelib.flows.orders.store import DynamoBuyerData, DynamoOrders


@wiring.cached
def orders() -> DynamoOrders:
    return DynamoOrders()


@wiring.cached
def buyer_data() -> DynamoBuyerData:
    return DynamoBuyerData(DataKeys(lambda: aws.client("kms"), config.data_key_id, purpose="buyer-data"))


@wiring.cached
def intake_ports() -> IntakePorts:
    return IntakePorts(orders=orders(), tasks=wiring.task_queue(), buyer_data=buyer_data())


class ShipmentsConfirmed:
    """The shipments flow's packages of an order confirmed to Amazon: units per order item."""

    def confirmed_units(self, order_id: str) -> dict[str, int]:
        from chalicelib.flows.shipments import wiring as shipments

        return shipments.confirmed_units(order_id)


@wiring.cached
def task_ports() -> TaskPorts:
    from chalicelib.flows.orders.amazon import SpApiOrders  # sp_api only where Amazon is called

    scale = config.rate_scale()  # Amazon's clock, as the limits run (the local stack runs them faster)
    return TaskPorts(orders=orders(), tasks=wiring.task_queue(), slots=wiring.slots(),
                     amazon=SpApiOrders(wiring.spapi()), buyer_data=buyer_data(), poll_state=wiring.state(),
                     poll_overlap=timedelta(seconds=config.order_poll_overlap_seconds()),
                     searches=wiring.state() if config.order_search_door() else None,
                     park_seconds=max(1.0, 300.0 / scale),
                     search_lease_seconds=max(30.0, 900.0 / scale),
                     search_lookback=timedelta(seconds=300.0 / scale),
                     search_overlap=timedelta(seconds=30.0 / scale), shipments=ShipmentsConfirmed())
