"""Orders: every order once, with the right status, from ORDER_CHANGE notifications; its money,
packages and (encrypted) buyer data from getOrder; a backstop poll of searchOrders for the
notifications Amazon never delivered; and the order status API.

    rules.py    the order's states and which change wins (pure)
    parsing.py  ORDER_CHANGE and Amazon's Order → the rules' objects (pure)
    service.py  what each notification, task and schedule does, over ports
    store.py    the orders and buyer-data tables (PynamoDB)
    amazon.py   getOrder and searchOrders (python-amazon-sp-api)
    wiring.py   the ports, built once per container
    views.py    the HTTPS views; openapi.py their description
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import config
from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.flows.orders import openapi, service, views, wiring
from chalicelib.flows.orders.parsing import ORDER_CHANGE


def poll_orders(now: datetime) -> dict[str, Any]:
    """Every 15 minutes: one searchOrders task per seller and marketplace."""
    from chalicelib.core import wiring as core

    queued = service.schedule_polls(core.state(), core.task_queue(), now,
                                    first_window=timedelta(days=config.first_poll_window_days()))
    return {"queued": queued}


def purge_buyer_data(now: datetime) -> dict[str, Any]:
    """Every hour: buyer data whose 30 days after delivery are over is deleted."""
    from chalicelib.core import wiring as core

    return service.purge_buyer_data(wiring.buyer_data(), core.state(), now)


FLOW = Flow(
    name="orders",
    summary="orders from ORDER_CHANGE, details from getOrder, the backstop poll, the status API",
    consumers=(Consumer(ORDER_CHANGE, service.record_order_change, wiring.intake_ports),),
    tasks=(TaskKind(service.FETCH_ORDER, service.fetch_order_details, wiring.task_ports),
           TaskKind(service.POLL_ORDERS, service.poll_orders, wiring.task_ports)),
    schedules=(Schedule("poll_orders", 15, poll_orders, "Backstop: catch orders whose notification was lost."),
               Schedule("purge_buyer_data", 60, purge_buyer_data, "Delete buyer data 30 days after delivery.")),
    routes=(Route("GET", "/orders/{order_id}", views.get_order, "get_order", scope="orders:read"),
            Route("GET", "/orders", views.list_orders, "list_orders", scope="orders:read")),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
)
