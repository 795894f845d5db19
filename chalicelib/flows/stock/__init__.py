"""Stock: one ledger per seller and SKU, every movement an immutable entry applied exactly once,
and Amazon's merchant quantity following available-to-sell.

    rules.py    the ledger's arithmetic, states, which door to Amazon (pure)
    parsing.py  Amazon's stock notifications, summaries, the listings feed and its report (pure)
    imports.py  a warehouse's CSV of counts (pure)
    service.py  each movement's source (orders, warehouse, Amazon), the pushes, the reconciliation
    store.py    the stock table (PynamoDB: one transaction per movement)
    amazon.py   patchListingsItem, JSON_LISTINGS_FEED, getInventorySummaries (python-amazon-sp-api)
    triggers.py the task other flows queue when an order's stock may have moved
    wiring.py   the ports, and what this flow reads of the orders and shipments flows
    views.py    the HTTPS views; openapi.py their description
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.flows.stock import openapi, service, views, wiring
from chalicelib.subscriptions import (
    FBA_INVENTORY_AVAILABILITY_CHANGES,
    FEED_PROCESSING_FINISHED,
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE,
)


def push_stock(now: datetime) -> dict[str, Any]:
    """Every minute: Amazon's merchant quantities follow available-to-sell (gauge StockWaitingPush)."""
    from chalicelib.core import wiring as core

    return service.schedule_pushes(wiring.stock(), core.state(), core.task_queue(), now)


def reconcile_stock(now: datetime) -> dict[str, Any]:
    """Every hour: FBA quantities checked against getInventorySummaries, drift corrected and counted."""
    from chalicelib.core import wiring as core

    return service.schedule_reconciliation(core.state(), core.task_queue(), now)


def health() -> dict[str, int]:
    """For /health: SKUs out of stock, on the reorder list, oversold, unknown to Amazon, and
    waiting for Amazon's quantity to follow."""
    from chalicelib.core import wiring as core

    totals = {"outOfStock": 0, "reorder": 0, "oversold": 0, "invalid": 0, "waitingPush": 0}
    for seller_id in sorted(core.admission().sellers):
        for name, count in wiring.stock().counts(seller_id).items():
            totals[name] += count
    return totals


_SKU_ROUTE = "/stock/{sku}"

FLOW = Flow(
    name="stock",
    summary="one stock ledger per seller and SKU; Amazon's merchant quantity follows available-to-sell",
    consumers=(Consumer(FBA_INVENTORY_AVAILABILITY_CHANGES, service.record_fba_change, wiring.intake_ports),
               Consumer(LISTINGS_ITEM_MFN_QUANTITY_CHANGE, service.record_mfn_quantity, wiring.intake_ports),
               Consumer(FEED_PROCESSING_FINISHED, service.listings_feed_finished, wiring.intake_ports,
                        subtype="JSON_LISTINGS_FEED")),
    tasks=(TaskKind(service.ORDER_STOCK, service.order_stock, wiring.task_ports),
           TaskKind(service.PUSH_LISTING, service.push_listing, wiring.amazon_ports),
           TaskKind(service.PUSH_FEED, service.push_feed, wiring.amazon_ports, queue="work"),
           TaskKind(service.SUBMIT_FEED, service.submit_feed, wiring.amazon_ports, queue="work"),
           TaskKind(service.READ_FEED_REPORT, service.read_listings_report, wiring.amazon_ports, queue="work"),
           TaskKind(service.RECONCILE_FBA, service.reconcile_fba, wiring.amazon_ports)),
    schedules=(Schedule("push_stock", 1, push_stock,
                        "Send Amazon the merchant quantities that changed (patches, or one listings feed)."),
               Schedule("reconcile_stock", 60, reconcile_stock,
                        "Check FBA quantities against Amazon's FBA Inventory API; correct and count drift.")),
    routes=(Route("GET", "/stock", views.list_stock, "list_stock", scope="stock:read"),
            Route("POST", "/stock/import", views.import_stock, "import_stock", scope="stock:write",
                  body_type="text/csv", max_body_bytes=512 * 1024),
            Route("GET", _SKU_ROUTE, views.get_stock, "get_stock", scope="stock:read"),
            Route("PUT", _SKU_ROUTE, views.put_stock, "count_stock", scope="stock:write",
                  body_schema={"$ref": "#/components/schemas/StockCount"}, max_body_bytes=4096),
            Route("PATCH", _SKU_ROUTE, views.patch_stock, "configure_stock", scope="stock:write",
                  body_schema={"$ref": "#/components/schemas/StockSettings"}, max_body_bytes=4096),
            Route("POST", "/stock/{sku}/adjustments", views.post_adjustment, "adjust_stock", scope="stock:write",
                  body_schema={"$ref": "#/components/schemas/StockAdjustment"}, max_body_bytes=4096)),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
    health=health,
)
