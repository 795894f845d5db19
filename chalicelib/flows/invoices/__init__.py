"""Invoices and credit notes: one invoice per supply (a confirmed merchant package, or what Amazon
shipped from its warehouses), numbered without gaps in the seller's series, drawn as a PDF in the
marketplace's language and archived write-once for the legal period.

    rules.py    the seller's profile, series, what is invoiced when, the document to the cent (pure)
    vat.py      VAT rates, EU membership, marketplaces' countries and languages (reference data)
    labels.py   the documents' words, money and dates in five languages (pure)
    pdf.py      the PDF (fpdf2, bundled fonts in fonts/)
    service.py  issue, render, the profile, the sweep
    store.py    the invoices table (PynamoDB: numbering in one transaction) and the S3 archive
    triggers.py the task other flows queue to ask for invoices
    wiring.py   the ports, and what this flow reads of the orders and shipments flows
    views.py    the HTTPS views; openapi.py their description
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.core.flow import Consumer, Flow, Route, Schedule, TaskKind
from chalicelib.flows.invoices import openapi, service, views, wiring
from chalicelib.subscriptions import FEED_PROCESSING_FINISHED, TRANSACTION_UPDATE


def sweep_invoices(now: datetime) -> dict[str, Any]:
    """Every 15 minutes: invoice the orders whose seller now has a profile, draw the documents
    whose PDF task was lost."""
    from chalicelib.core import wiring as core
    from chalicelib.core.observability import gauge

    result = service.sweep(wiring.profiles(), core.state(), core.task_queue(), now)
    gauge("InvoicesLate", result["late"])  # not accepted by Amazon by the end of the next business day
    return result


def health() -> dict[str, int]:
    """For /health: orders waiting for their seller's profile, documents not accepted by Amazon
    yet, and of those, the late ones (past the end of the next business day)."""
    from chalicelib.core import wiring as core
    from chalicelib.core.times import now

    sellers = sorted(core.admission().sellers)
    store = wiring.profiles()
    return {"waitingForProfile": sum(store.count_waiting(s) for s in sellers),
            "open": sum(store.count_open(s) for s in sellers),
            "late": sum(store.count_open(s, late_before=now()) for s in sellers)}


FLOW = Flow(
    name="invoices",
    summary="Invoices and credit notes numbered without gaps, drawn as PDFs, archived write-once, uploaded once",
    consumers=(Consumer(FEED_PROCESSING_FINISHED, service.record_feed_finished, wiring.intake_ports,
                        subtype="UPLOAD_VAT_INVOICE"),
               Consumer(TRANSACTION_UPDATE, service.record_transaction, wiring.intake_ports)),
    tasks=(TaskKind(service.ISSUE, service.issue_invoices, wiring.issue_ports),
           TaskKind(service.RENDER, service.render_invoice, wiring.render_ports, queue="work"),
           TaskKind(service.UPLOAD, service.upload_invoice, wiring.amazon_ports),
           TaskKind(service.SUBMIT, service.submit_invoice, wiring.amazon_ports),
           TaskKind(service.REPORT, service.read_invoice_report, wiring.amazon_ports),
           TaskKind(service.REFUNDS, service.fetch_refunds, wiring.amazon_ports)),
    schedules=(Schedule("sweep_invoices", 15, sweep_invoices,
                        "Invoice the orders that waited for a profile; draw documents whose PDF task was lost."),),
    routes=(Route("PUT", "/sellers/{seller_id}/profile", views.put_profile, "put_seller_profile",
                  scope="sellers:write", body_schema={"$ref": "#/components/schemas/SellerProfile"},
                  max_body_bytes=400 * 1024),
            Route("GET", "/sellers/{seller_id}/profile", views.get_profile, "get_seller_profile",
                  scope="invoices:read"),
            Route("GET", "/orders/{order_id}/invoices", views.order_invoices, "list_order_invoices",
                  scope="invoices:read"),
            Route("GET", "/invoices", views.list_invoices, "list_invoices", scope="invoices:read"),
            Route("GET", "/invoices/{number}", views.get_invoice, "get_invoice", scope="invoices:read"),
            Route("POST", "/invoices/{number}/upload", views.upload_again, "upload_invoice", scope="invoices:write",
                  body_schema={"type": "object", "additionalProperties": False, "properties": {}},
                  max_body_bytes=1024)),
    openapi_paths=openapi.PATHS,
    openapi_schemas=openapi.SCHEMAS,
    health=health,
)
