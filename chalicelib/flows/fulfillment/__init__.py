"""Multi-Channel Fulfillment: orders of the seller's other sales channels (their own shop), sent
to Amazon's warehouses (Fulfillment Outbound API 2020-07-01) once, followed from Amazon's
FULFILLMENT_ORDER_STATUS notifications (status, shipments, packages, tracking, returns), and
cancelled while Amazon allows.

    rules.py    what a fulfillment order is, what may be done with it, Amazon's answer read (pure)
    service.py  send (at most once: core/once.py), follow, cancel
    store.py    the fulfillment-orders table (PynamoDB); the recipient is sealed in the buyer-data table
    amazon.py   createFulfillmentOrder, getFulfillmentOrder, cancelFulfillmentOrder
    wiring.py   the ports, built once per container
    views.py    the HTTPS views; openapi.py their description
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.flows.fulfillment import openapi, service, views, wiring


def sweep_fulfillment(now: datetime) -> dict[str, Any]:
    """Every 15 minutes: queue again the creations and cancellations whose task was lost."""
    from chalicelib.core import wiring as core

    return service.sweep_pending(wiring.orders(), core.state(), core.task_queue(), now)


def health() -> dict[str, int]:
    """For /health: MCF orders whose creation or cancellation is still on its way to Amazon."""
    from chalicelib.core import wiring as core

    return {"pending": sum(wiring.orders().count_pending(s) for s in sorted(core.admission().sellers))}


FLOW = Flow(
    name="fulfillment",
    summary="Multi-Channel Fulfillment orders sent to Amazon once, followed, cancelled",
    consumers=(Consumer(service.FULFILLMENT_ORDER_STATUS, service.record_status, wiring.intake_ports),),
    tasks=(TaskKind(service.CREATE, service.create_order, wiring.task_ports),
           TaskKind(service.REFRESH, service.refresh_order, wiring.task_ports),
           TaskKind(service.CANCEL, service.cancel_order, wiring.task_ports)),
    schedules=(Schedule("sweep_fulfillment", 15, sweep_fulfillment,
                        "Queue again the MCF creations and cancellations still on their way."),),
    routes=(Route("POST", "/fulfillment-orders", views.create, "create_fulfillment_order", scope="fulfillment:write",
                  body_schema={"$ref": "#/components/schemas/FulfillmentOrderRequest"}, max_body_bytes=64 * 1024),
            Route("GET", "/fulfillment-orders/{fulfillment_order_id}", views.get, "get_fulfillment_order",
                  scope="orders:read"),
            Route("DELETE", "/fulfillment-orders/{fulfillment_order_id}", views.cancel, "cancel_fulfillment_order",
                  scope="fulfillment:write")),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
    health=health,
)
