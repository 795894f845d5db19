"""Shipments: the warehouse records each package it ships (`POST /orders/{orderId}/shipments`),
checked against the order; sellerops confirms it to Amazon exactly once (Orders API v0
confirmShipment, through the task queue and the shared limiter) and keeps Amazon's answer.

    rules.py    what may be shipped, what is left, what Amazon's refusals mean (pure)
    shipby.py   which ship-by alert an order has earned, and the digest (pure)
    service.py  record, confirm (at most once: core/once.py), sweep, ship-by alerts
    store.py    the shipments table (PynamoDB)
    amazon.py   confirmShipment and the order's packages (python-amazon-sp-api)
    wiring.py   the ports, built once per container
    views.py    the HTTPS views; openapi.py their description
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.flow import Flow, Route, Schedule, TaskKind
from chalicelib.flows.shipments import openapi, service, views, wiring


def sweep_shipments(now: datetime) -> dict[str, Any]:
    """Every 15 minutes: re-queue confirmations whose task was lost."""
    from chalicelib.core import wiring as core

    return service.sweep_pending(wiring.shipments(), core.state(), core.task_queue(), now)


def alert_ship_by(now: datetime) -> dict[str, Any]:
    """Every 15 minutes: count the orders due to ship and late (metrics ShipByDue, ShipByLate)
    and publish a digest of those newly due or late to the alerts topic."""
    from chalicelib import config
    from chalicelib.core.observability import gauge

    result = service.alert_ship_by(wiring.alert_ports(), now, config.ship_by_alert_window())
    gauge("ShipByDue", result["due"])
    gauge("ShipByLate", result["late"])
    return result


def health() -> dict[str, int]:
    """For /health: orders with a confirmation awaiting Amazon, with a refusal to look at, due to
    ship within the alert window (late ones included), and late."""
    from chalicelib import config
    from chalicelib.core import wiring as core
    from chalicelib.core.times import now

    sellers = sorted(core.admission().sellers)  # read once a minute, as /health's seller count
    totals = {"pending": 0, "refused": 0}
    for seller_id in sellers:
        for name, count in wiring.shipments().counts(seller_id).items():
            totals[name] += count
    return {**totals, **service.due_counts(wiring.due_index(), sellers, now(), config.ship_by_alert_window())}


FLOW = Flow(
    name="shipments",
    summary="merchant shipments recorded by the warehouse, confirmed to Amazon exactly once",
    tasks=(TaskKind(service.CONFIRM_SHIPMENT, service.confirm_shipment, wiring.task_ports),),
    schedules=(Schedule("sweep_shipments", 15, sweep_shipments,
                        "Queue again the confirmations of shipments still pending."),
               Schedule("alert_ship_by", 15, alert_ship_by,
                        "Count the orders due to ship and late; e-mail a digest of those newly so.")),
    routes=(Route("POST", "/orders/{order_id}/shipments", views.record_shipment, "record_shipment",
                  scope="shipments:write", body_schema={"$ref": "#/components/schemas/ShipmentRequest"},
                  max_body_bytes=64 * 1024),
            Route("GET", "/orders/{order_id}/shipments", views.list_order_shipments, "list_order_shipments",
                  scope="orders:read"),
            Route("POST", "/shipments/import", views.import_shipments, "import_shipments", scope="shipments:write",
                  body_type="text/csv", max_body_bytes=1024 * 1024),
            Route("GET", "/shipments", views.list_shipments, "list_shipments", scope="orders:read"),
            Route("GET", "/shipments/due", views.list_due, "list_due", scope="orders:read"),
            Route("GET", "/shipments/{shipment_id}", views.get_shipment, "get_shipment", scope="orders:read")),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
    health=health,
)
