"""Settlements: every Amazon payout reconciled to the cent, and books an accountant can import.

    parsing.py  Amazon's settlement report read as a stream, into sums (pure)
    rules.py    categories, the control total, each order's money, matching documents (pure)
    journal.py  the seller's account mapping and the summary journal entries (pure)
    exports.py  the journal as CSV, Xero, QuickBooks Online and FEC files (pure)
    service.py  finding Amazon's reports, importing a file once, reconciling it
    store.py    the settlements table (PynamoDB) and the files (S3, write-once)
    amazon.py   getReports, getReport, getReportDocument (python-amazon-sp-api)
    wiring.py   the ports, and what this flow reads of the invoices flow
    views.py    the HTTPS views; openapi.py their description
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.flows.settlements import openapi, service, views, wiring
from chalicelib.flows.settlements.parsing import REPORT_TYPE
from chalicelib.subscriptions import REPORT_PROCESSING_FINISHED


def list_settlements(now: datetime) -> dict[str, Any]:
    """Daily: getReports over the 90 days Amazon keeps settlements, for the ones not seen yet; a
    settlement whose reconciliation was lost is queued again."""
    from chalicelib.core import wiring as core

    return service.schedule_listing(core.state(), wiring.settlements(), core.task_queue(), now)


def health() -> dict[str, int]:
    """For /health: settlements blocked (a bad file, rows not summing to the deposit), balanced
    but waiting for an account mapping, and gaps (a period or a report not imported)."""
    from chalicelib.core import wiring as core
    from chalicelib.core.times import now

    store = wiring.settlements()
    totals = {"blocked": 0, "waitingMapping": 0, "gaps": 0}
    for seller_id in sorted(core.admission().sellers):
        records = store.list(seller_id)
        totals["blocked"] += sum(1 for r in records if r["status"] == "blocked")
        totals["waitingMapping"] += sum(1 for r in records if r["status"] == "balanced")
        totals["gaps"] += len(service.gaps(records, store.reports(seller_id), now()))
    return totals


_ONE = "/settlements/{settlement_id}"

FLOW = Flow(
    name="settlements",
    summary="Amazon's settlements reconciled to the cent against orders, fees and documents; journals to import",
    consumers=(Consumer(REPORT_PROCESSING_FINISHED, service.report_finished, wiring.intake_ports,
                        subtype=REPORT_TYPE),),
    tasks=(TaskKind(service.LIST, service.list_reports, wiring.amazon_ports),
           TaskKind(service.FETCH, service.fetch_report, wiring.amazon_ports, queue="work"),
           TaskKind(service.RECONCILE, service.reconcile_settlement, wiring.work_ports, queue="work")),
    schedules=(Schedule("list_settlements", 24 * 60, list_settlements,
                        "Ask Amazon for its settlement reports of the last 90 days; fetch those not seen yet."),),
    routes=(Route("GET", "/settlements", views.list_settlements, "list_settlements", scope="books:read"),
            Route("POST", "/settlements/import", views.import_settlement, "import_settlement", scope="books:write",
                  body_type="text/tab-separated-values", max_body_bytes=5 * 1024 * 1024),
            Route("GET", _ONE, views.get_settlement, "get_settlement", scope="books:read"),
            Route("GET", _ONE + "/export", views.export_settlement, "export_settlement", scope="books:read"),
            Route("GET", "/accounts/mapping", views.get_mapping, "get_account_mapping", scope="books:read"),
            Route("PUT", "/accounts/mapping", views.put_mapping, "put_account_mapping", scope="books:write",
                  body_schema={"$ref": "#/components/schemas/AccountMapping"}, max_body_bytes=256 * 1024)),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
    health=health,
)
