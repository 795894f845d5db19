"""The settlements flow's HTTPS views. Every route takes `sellerId` as a query parameter,
required when the deployment serves more than one seller (the caller may see)."""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalice import Response

from chalicelib.core.auth import served_sellers
from chalicelib.core.http import BadRequest, Conflict, NotFound, one_seller, only, query, whole_number
from chalicelib.core.times import now
from chalicelib.flows.settlements import exports, journal, parsing, service
from chalicelib.flows.settlements.store import POSTED, STATUSES

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _seller(request: Any, params: dict[str, str]) -> str:
    return one_seller(params, served_sellers(request))


def _store() -> Any:
    from chalicelib.flows.settlements import wiring

    return wiring.settlements()


def summary_view(record: dict[str, Any]) -> dict[str, Any]:
    return {"settlementId": record["settlementId"], "sellerId": record["sellerId"], "period": record["period"],
            "depositDate": record["depositDate"], "deposit": {"amount": record["deposit"],
                                                              "currency": record["currency"]},
            "status": record["status"], "reasons": record.get("reasons") or [], "rows": record.get("rows"),
            "orders": record.get("orders"), "variances": record.get("variancesCount"),
            "source": record["file"].get("source"), "reportId": record["file"].get("reportId"),
            "importedAt": record.get("importedAt"), "postedAt": record.get("postedAt")}


def settlement_view(record: dict[str, Any]) -> dict[str, Any]:
    return {**summary_view(record), "totals": record.get("totals") or {}, "control": record.get("control"),
            "postedDates": record.get("posted"), "problem": record.get("problem"),
            "variancesShown": record.get("variances") or [], "journal": record.get("journal"),
            "file": {"sha256": record["file"]["sha256"], "bytes": record["file"]["bytes"]},
            "reconciledAt": record.get("reconciledAt")}


def _date(params: dict[str, str], name: str) -> date | None:
    text = params.get(name)
    if text is None:
        return None
    if not _DATE.fullmatch(text):
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be a date, YYYY-MM-DD") from None


def list_settlements(request: Any) -> dict[str, Any]:
    """The seller's settlements, newest first, and what is missing (gaps)."""
    params = query(request)
    only(params, {"sellerId", "from", "to", "status", "limit"})
    seller_id = _seller(request, params)
    start, end = _date(params, "from"), _date(params, "to")
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    limit = whole_number(params, "limit", 50, 1, 500)
    store = _store()
    records = store.list(seller_id)
    found = [r for r in records if (status is None or r["status"] == status)
             and (start is None or r["period"]["end"][:10] >= start.isoformat())
             and (end is None or r["period"]["start"][:10] <= end.isoformat())]
    return {"sellerId": seller_id, "settlements": [summary_view(r) for r in found[:limit]],
            "gaps": service.gaps(records, store.reports(seller_id), now())}


def _found(request: Any, settlement_id: str, params: dict[str, str]) -> dict[str, Any]:
    seller_id = _seller(request, params)
    if not parsing.SETTLEMENT_ID.fullmatch(settlement_id or ""):
        raise BadRequest("settlementId is 1 to 40 letters, digits or hyphens, like 11795245201")
    record = _store().get(seller_id, settlement_id)
    if record is None:
        raise NotFound(f"no settlement {settlement_id} is imported for seller {seller_id}")
    return record


def get_settlement(request: Any, settlement_id: str) -> dict[str, Any]:
    params = query(request)
    only(params, {"sellerId"})
    return settlement_view(_found(request, settlement_id, params))


def export_settlement(request: Any, settlement_id: str) -> Response:
    """The journal as a file: csv, xero, qbo or fec (a posted settlement's only)."""
    params = query(request)
    only(params, {"sellerId", "format"})
    fmt = params.get("format", "csv")
    if fmt not in exports.FORMATS:
        raise BadRequest(f"format must be one of {', '.join(exports.FORMATS)}")
    record = _found(request, settlement_id, params)
    if record["status"] != POSTED:
        raise Conflict(f"settlement {settlement_id} is {record['status']}, not posted: "
                       f"{'; '.join(record.get('reasons') or ['it is being reconciled'])}")
    moment = datetime.fromisoformat
    head = parsing.Head(record["settlementId"], moment(record["period"]["start"]), moment(record["period"]["end"]),
                        moment(record["depositDate"]), Decimal(record["deposit"]), record["currency"])
    book = journal.journal_of(record["journal"])
    chart = service.chart_for(_store(), record["sellerId"])
    siren = _siren(record["sellerId"]) if fmt == "fec" else None
    try:
        out = exports.export(fmt, head, book, chart, record["sellerId"], moment(record["postedAt"]).date(), siren)
    except exports.NotExportable as refused:
        raise Conflict(str(refused)) from None
    return Response(body=out.text, status_code=200,
                    headers={"Content-Type": out.content_type,
                             "Content-Disposition": f'attachment; filename="{out.filename}"'})



def _siren(seller_id: str) -> str | None:
    from chalicelib.flows.invoices import wiring as invoices

    profile = invoices.profiles().profile(seller_id)
    return profile.siren if profile is not None else None


def import_settlement(request: Any, body: str) -> Response:
    """A settlement file a person downloaded from Seller Central: every row checked now (a bad
    one is a 400 naming its line, column and value), then reconciled like Amazon's own."""
    from chalicelib.flows.settlements import wiring

    params = query(request)
    only(params, {"sellerId"})
    seller_id = _seller(request, params)
    try:
        claim, head = service.import_file(wiring.intake_ports(), seller_id, body.encode(), {"source": "upload"},
                                          now())
    except service.BadFile as bad:
        raise BadRequest(bad.reason, {"problem": bad.problem} if bad.problem else None) from None
    _flush()  # if this fails, the same upload again queues its reconciliation
    return Response(body={"settlementId": head.settlement_id, "imported": claim.new,
                          "status": claim.record["status"],
                          "message": "imported: it is being reconciled" if claim.new else
                          "this settlement was imported already: nothing changed"},
                    status_code=202 if claim.new else 200, headers={"Content-Type": "application/json"})


def _flush() -> None:
    from chalicelib.core import wiring as core

    core.task_queue().flush()


def get_mapping(request: Any) -> dict[str, Any]:
    params = query(request)
    only(params, {"sellerId"})
    seller_id = _seller(request, params)
    return {"sellerId": seller_id, **journal.chart_json(service.chart_for(_store(), seller_id))}


def put_mapping(request: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The seller's account mapping; settlements waiting for it are reconciled again."""
    from chalicelib.core.times import iso

    params = query(request)
    only(params, {"sellerId"})
    seller_id = _seller(request, params)
    at = now()
    try:
        chart = journal.chart_of(body, iso(at))
    except journal.MappingError as bad:  # valid JSON of the schema, refused by its meaning
        raise Conflict(bad.reason) from None
    _store().save_mapping(seller_id, journal.chart_json(chart), at)
    from chalicelib.core import wiring as core

    again = service.remap(_store(), core.task_queue(), seller_id)
    _flush()
    return {"sellerId": seller_id, **journal.chart_json(chart), "reconciling": again}


def payments_of(order_id: str, seller_id: str) -> dict[str, Any]:
    """For the order view: what Amazon paid for the order, its fees, in which settlements."""
    found = _store().payments_of(seller_id, order_id)
    settled = [{"settlementId": p["settlementId"], "depositDate": p.get("depositDate"), "currency": p["currency"],
                "sales": p["sales"], "refunds": p["refunds"], "fees": p["fees"], "withheldTax": p["withheldTax"],
                "other": p["other"], "net": p["net"]} for p in found]
    currencies = {p["currency"] for p in settled}
    net = (str(sum((Decimal(p["net"]) for p in settled), Decimal(0)))
           if len(currencies) == 1 else None)
    return {"paid": bool(settled), "net": net, "currency": next(iter(currencies)) if len(currencies) == 1 else None,
            "settlements": settled}
