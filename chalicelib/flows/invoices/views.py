"""The invoices flow's HTTPS views: the sellers' profiles and the documents issued."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.core import http
from chalicelib.core.auth import principal, served_sellers
from chalicelib.core.http import BadRequest, Conflict, NotFound, only, query
from chalicelib.core.times import iso_seconds, now
from chalicelib.flows.invoices.openapi import DATE_PATTERN
from chalicelib.flows.invoices.rules import DocumentType, ProfileError, Refused409, profile_json

NUMBER = re.compile(r"^[A-Z0-9-]{3,40}$")
TYPES = {"invoice": DocumentType.INVOICE, "creditNote": DocumentType.CREDIT_NOTE}
STATUSES = ("issued", "rendered", "not sent", "held", "submitted", "accepted", "rejected", "late")


def _served(request: Any) -> list[str]:
    return served_sellers(request)


def _seller(request: Any, seller_id: str) -> str:
    if seller_id not in _served(request):
        raise NotFound(f"no seller {seller_id} is served by this deployment")
    return seller_id


# --- profiles -------------------------------------------------------------------------------

def put_profile(request: Any, body: dict[str, Any], seller_id: str) -> dict[str, Any]:
    from chalicelib.core import wiring as core
    from chalicelib.flows.invoices import service, wiring

    _seller(request, seller_id)
    try:
        profile = service.save_profile(wiring.profiles(), core.task_queue(), seller_id, body, now())
    except ProfileError as refused:
        raise Conflict(f"the profile cannot be used: {refused.reason}") from None
    core.task_queue().flush()
    return {"sellerId": seller_id, "profile": profile_json(profile)}


def get_profile(request: Any, seller_id: str) -> dict[str, Any]:
    from chalicelib.flows.invoices import wiring

    _seller(request, seller_id)
    profile = wiring.profiles().profile(seller_id)
    if profile is None:
        raise NotFound(f"seller {seller_id} has no profile yet: PUT /sellers/{seller_id}/profile; its orders wait "
                       "for it to be invoiced")
    return {"sellerId": seller_id, "profile": profile_json(profile)}


# --- documents ------------------------------------------------------------------------------

def _amount(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def document_view(issued: Any, with_url: bool = True) -> dict[str, Any]:
    from chalicelib.flows.invoices import wiring

    doc = issued.document
    upload = issued.upload or {}
    return {
        "number": doc.number, "type": _kind(issued), "corrects": doc.corrects, "sellerId": doc.seller_id,
        "orderId": doc.order_id, "marketplaceId": doc.marketplace_id, "source": doc.source,
        "issueDate": doc.issue_date.isoformat(), "supplyDate": doc.supply_date.isoformat(),
        "currency": doc.currency, "language": doc.language, "countryOfSupply": doc.country,
        "total": _amount(doc.total), "totalNet": _amount(doc.total_net), "vatTotal": _amount(doc.total_tax),
        "vatByRate": [{"rate": str(rate) if rate is not None else None, "taxable": _amount(net), "vat": _amount(tax)}
                      for rate, net, tax in doc.vat_by_rate()],
        "lines": [{"kind": line.kind, "description": line.description if line.kind == "item" else line.kind,
                   "sku": line.sku, "asin": line.asin, "quantity": line.quantity, "unitNet": str(line.unit_net),
                   "rate": str(line.rate) if line.rate is not None else None, "net": _amount(line.net),
                   "vat": _amount(line.tax)} for line in doc.lines],
        "mentions": list(doc.mentions), "state": issued.state, "attention": doc.attention,
        "uploadDeadline": issued.deadline,
        "late": bool(issued.open and issued.deadline and issued.deadline < iso_seconds(now())),
        "upload": {"status": issued.upload_status, "attempt": upload.get("attempt"), "feedId": upload.get("feed_id"),
                   "submittedAt": upload.get("submitted_at"), "answeredAt": upload.get("answered_at"),
                   "amazonCode": upload.get("code"), "amazonMessage": upload.get("message"),
                   "explanation": upload.get("explanation")},
        "pdfUrl": wiring.archive().url(issued.pdf_key) if with_url and issued.pdf_key else None,
    }


def _kind(issued: Any) -> str:
    return "invoice" if issued.document.kind is DocumentType.INVOICE else "creditNote"


def _invoicing_state(documents: list[Any], seller_id: str) -> str:
    from chalicelib.flows.invoices import wiring

    if documents:
        return "invoiced"
    if wiring.profiles().profile(seller_id) is None:
        return "waiting for the seller's profile"
    return "nothing to invoice yet"


def invoicing_of(order_id: str, seller_id: str) -> dict[str, Any]:
    """The order's invoicing state, for the order view."""
    from chalicelib.flows.invoices import wiring

    documents = wiring.profiles().documents_of(seller_id, order_id)
    return {"state": _invoicing_state(documents, seller_id),
            "documents": [{"number": d.number, "type": _kind(d), "total": _amount(d.document.total),
                           "state": d.state} for d in documents]}


def order_invoices(request: Any, order_id: str) -> dict[str, Any]:
    from chalicelib.flows.invoices import wiring
    from chalicelib.flows.orders import wiring as orders

    found = orders.orders().get(http.order_id(order_id))
    if found is None or not principal(request).may_see(found[0].seller_id):
        raise NotFound(f"no order {order_id} has been received")
    order = found[0]
    documents = wiring.profiles().documents_of(order.seller_id, order.order_id)  # read once, for both
    return {"orderId": order.order_id, "state": _invoicing_state(documents, order.seller_id),
            "documents": [document_view(d) for d in documents]}


def _has_status(issued: Any, status: str | None) -> bool:
    if status is None:
        return True
    if status in ("issued", "rendered"):
        return bool(issued.state == status)
    if status == "late":
        return bool(issued.open and issued.deadline and issued.deadline < iso_seconds(now()))
    return bool(issued.upload_status == status)


def upload_again(request: Any, body: dict[str, Any], number: str) -> dict[str, Any]:
    """Send a document to Amazon again (after a rejection was fixed, or one held for a person)."""
    from chalicelib.core import wiring as core
    from chalicelib.flows.invoices import service, wiring

    params = query(request)
    only(params, {"sellerId"})
    found = get_invoice(request, number)
    try:
        again = service.send_again(wiring.profiles(), core.task_queue(), found["sellerId"], found["number"], now())
    except Refused409 as refused:
        raise Conflict(refused.message) from None
    core.task_queue().flush()
    return document_view(again)


def _number(number: str) -> str:
    if not NUMBER.fullmatch(number):
        raise BadRequest("a document number is 3–40 capitals, digits and hyphens, e.g. INV-2026-000042")
    return number


def get_invoice(request: Any, number: str) -> dict[str, Any]:
    """One document. Numbers are per seller: without ?sellerId= the number is looked up among
    the sellers the token may see (two sellers with the same number: a 409 asking which)."""
    from chalicelib.flows.invoices import wiring

    params = query(request)
    only(params, {"sellerId"})
    number = _number(number)
    visible = _served(request)
    if "sellerId" in params:
        found = wiring.profiles().get(http.seller_id(params, "the document's seller", visible), number)
        matches = [found] if found is not None else []
    else:
        matches = [f for f in (wiring.profiles().get(s, number) for s in visible) if f is not None]
    if not matches:
        raise NotFound(f"no document {number} has been issued")
    if len(matches) > 1:
        raise Conflict(f"{len(matches)} sellers issued a document {number}: name one (?sellerId=)")
    return document_view(matches[0])


def list_invoices(request: Any) -> dict[str, Any]:
    """A seller's documents, the latest issued first; `status` and `type` filter within a page."""
    from chalicelib.core import pages
    from chalicelib.flows.invoices import wiring

    params = query(request)
    only(params, {"sellerId", "status", "type", "since", "limit", "nextToken"})
    seller_id = http.seller_id(params, "GET /invoices lists one seller's documents", _served(request))
    kind = params.get("type")
    if kind is not None and kind not in TYPES:
        raise BadRequest("type must be invoice or creditNote")
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    since = params.get("since")
    if since is not None and not re.fullmatch(DATE_PATTERN, since):
        raise BadRequest("since is a date of issue, e.g. 2026-11-01")
    try:
        since_day = date.fromisoformat(since) if since else None
    except ValueError:
        raise Conflict(f"since {since} is not a day of that year's calendar") from None
    limit = http.whole_number(params, "limit", 50, 1, 100)
    bound_to = {"route": "list_invoices", "seller": seller_id, "status": status, "type": kind, "since": since}
    rows, last = wiring.profiles().list(seller_id, since_day, limit, pages.open_(params.get("nextToken"), bound_to))
    found = [r for r in rows if (kind is None or r.document.kind is TYPES[kind]) and _has_status(r, status)]
    return {"documents": [document_view(r) for r in found], "nextToken": pages.seal(last, bound_to)}
