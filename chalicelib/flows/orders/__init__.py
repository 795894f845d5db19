"""Orders: every order once, with the right status, from ORDER_CHANGE notifications; its money,
packages and (encrypted) buyer data from getOrder, or from searchOrders pages when many orders of
a seller wait (rules.door); a backstop poll of searchOrders for the
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

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import config
from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.flows.orders import openapi, service, views, wiring
from chalicelib.flows.orders.parsing import ORDER_CHANGE


def poll_orders(now: datetime) -> dict[str, Any]:
    """Every 15 minutes: one searchOrders task per seller and marketplace; and the orders
    waiting for details watched (gauges, an alert past 15 minutes)."""
    from chalicelib.core import wiring as core
    from chalicelib.core.alerts import SnsAlerts

    queued = service.schedule_polls(core.state(), core.task_queue(), now,
                                    first_window=timedelta(days=config.first_poll_window_days()))
    found = service.backlogs(core.state(), core.limiter(), now)
    return {"queued": queued, **service.watch_backlog(found, core.state(), SnsAlerts(), now, config.rate_scale())}


def health() -> dict[str, int]:
    """For /health: orders waiting for their details (getOrder calls booked ahead, every
    seller), the longest wait in seconds, and the searchOrders doors open."""
    from chalicelib.core import wiring as core

    found = service.backlogs(core.state(), core.limiter(), datetime.now(UTC))
    return {"detailsQueued": sum(b.get_order_queued for b in found.values()),
            "detailsOldestWaitSeconds": round(max((b.oldest_wait_seconds for b in found.values()), default=0.0)),
            "searchDoorsOpen": sum(1 for b in found.values() if b.searching)}


def purge_buyer_data(now: datetime) -> dict[str, Any]:
    """Every hour: buyer data whose 30 days after delivery are over is deleted."""
    from chalicelib.core import wiring as core

    return service.purge_buyer_data(wiring.buyer_data(), core.state(), now)


FLOW = Flow(
    name="orders",
    summary="orders from ORDER_CHANGE, details from getOrder, the backstop poll, the status API",
    consumers=(Consumer(ORDER_CHANGE, service.record_order_change, wiring.intake_ports),),
    tasks=(TaskKind(service.FETCH_ORDER, service.fetch_order_details, wiring.task_ports,
                    given_up=service.details_given_up),
           TaskKind(service.POLL_ORDERS, service.poll_orders, wiring.task_ports),
           TaskKind(service.SEARCH_DETAILS, service.search_details, wiring.task_ports,
                    given_up=service.search_given_up)),
    schedules=(Schedule("poll_orders", 15, poll_orders, "Backstop: catch orders whose notification was lost."),
               Schedule("purge_buyer_data", 60, purge_buyer_data, "Delete buyer data 30 days after delivery.")),
    routes=(Route("GET", "/orders/{order_id}", views.get_order, "get_order", scope="orders:read"),
            Route("GET", "/orders", views.list_orders, "list_orders", scope="orders:read"),
            Route("GET", "/sellers/{seller_id}/backlog", views.seller_backlog, "get_seller_backlog",
                  scope="orders:read")),
    health=health,
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
)
