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

from chalicelib.core.flow import Consumer, Flow, Route, TaskKind
from chalicelib.flows.fulfillment import openapi, service, views, wiring

FLOW = Flow(
    name="fulfillment",
    summary="Multi-Channel Fulfillment orders sent to Amazon once, followed, cancelled",
    consumers=(Consumer(service.FULFILLMENT_ORDER_STATUS, service.record_status, wiring.intake_ports),),
    tasks=(TaskKind(service.CREATE, service.create_order, wiring.task_ports),
           TaskKind(service.REFRESH, service.refresh_order, wiring.task_ports),
           TaskKind(service.CANCEL, service.cancel_order, wiring.task_ports)),
    routes=(Route("POST", "/fulfillment-orders", views.create, "create_fulfillment_order", scope="fulfillment:write",
                  body_schema={"$ref": "#/components/schemas/FulfillmentOrderRequest"}, max_body_bytes=64 * 1024),
            Route("GET", "/fulfillment-orders/{fulfillment_order_id}", views.get, "get_fulfillment_order",
                  scope="orders:read"),
            Route("DELETE", "/fulfillment-orders/{fulfillment_order_id}", views.cancel, "cancel_fulfillment_order",
                  scope="fulfillment:write")),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
)
